"""`mmprep ablate`."""

from __future__ import annotations

from pathlib import Path

import click

from .. import schemas
from .base import main


@main.command()
@click.option("--store", "store_url", required=True, help="The store every cell trains and evaluates on.")
@click.option("--grid", "grid", multiple=True, required=True, metavar="KEY=V1,V2",
              help="A training option and its values (repeat for more keys; the cells are every combination).")  # fmt: skip
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="A training option for every cell.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A TOML file of training options for every cell (--set and --grid override it).")  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), help="Optimiser steps per cell (max_steps) [default: epochs].")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per cell, seeds seed, seed+1, ...; the summary gives their mean and its 95 % interval.")  # fmt: skip
@click.option("--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True, help="Evaluated split.")
@click.option("--mode", type=click.Choice(schemas.enum("eval-report", "properties", "mode")),
              default="missing-aware", show_default=True, help="Inference mode of the evaluation.")  # fmt: skip
@click.option("--alpha", type=float, help="--mode conservative: gate factor.")
@click.option("--factor", type=float, help="--mode adaptive: gate factor without text.")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Run cells in parallel on a local dask cluster of N processes."
)
@click.option("--scheduler", metavar="ADDRESS", help="Run cells on the dask cluster at ADDRESS (tcp://host:port).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The ablation folder (rerun the same command to continue it).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def ablate(store_url, grid, settings, config_file, steps, seeds, split, mode, alpha, factor, workers, scheduler, out,
           quiet):  # fmt: skip
    """Train and evaluate every combination of training options, and compare them.

    The design's claims to test this way: docs/missing-modality.md#7-the-designs-claims-to-be-tested.
    Each cell is a run of `mmprep train` with the grid's values, evaluated with `mmprep eval`. Cells run one
    after another, or in parallel on a dask cluster (--workers, --scheduler). Finished cells are never rerun
    and an interrupted one resumes: rerun the same command. Writes results.csv (every cell and seed),
    summary.md and summary.csv (mean over seeds with a 95 % interval) and loss_curves.png into --out.

    \b
    Example:
      mmprep ablate --store synth.zarr --out ablation --grid placeholder=zero,mask,mask+indicator \\
        --grid text_dropout=none,0.3,adaptive --seeds 3 --set backbone=tiny --set epochs=40
    """
    from ..analysis.ablate import Ablation, parse_grid, parse_settings, run
    from ..train.config import load_toml

    base = {**(load_toml(config_file) if config_file else {}), **parse_settings(settings)}
    ablation = Ablation(store_url, parse_grid(list(grid)), base, seeds, steps, split, mode, alpha, factor)
    result = run(out, ablation, workers, scheduler, progress=not quiet, say=lambda m: click.echo(m, err=True))
    if "summary" in result:
        click.echo((out / "summary.md").read_text(encoding="utf-8"))
        click.echo(f"wrote {result['results']}, {result['summary']} (and .csv), {result['curves']}")
