"""`mmprep train`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InputError
from ..train.config import load_toml, resolve
from ..train.run_dir import new_run, resumed_config
from .base import main
from .options import train_options


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="The run directory (new).")
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Continue the run in this directory from its last checkpoint, with its saved configuration.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A TOML file of options (keys as in schemas/train-config.schema.json); flags override it.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@train_options
def train(out, resume, config_file, quiet, **flags):
    """Train a pose-to-text model on the store, with the missing-text strategies of docs/missing-modality.md.

    A pose encoder turns the keypoints into steps for an mT5 encoder-decoder. The description enters as more
    input steps before the pose steps (--fusion token, the default: its pooled feature, then its per-token
    features) or through a gate on the pose features (--fusion gate), and as a word prior on the output
    (--text-prior); a placeholder stands in where a video has none. The defaults are the model whose figures
    docs/missing-modality.md reports (with --backbone tiny, 100 epochs). Options that implement a strategy
    name the docs section that explains it. A run directory records the resolved configuration
    (config.toml), metrics.jsonl, first_batch.json and checkpoints/{last,best}.pt. Ctrl-C finishes the
    current step and saves; --resume continues exactly. Under torchrun every process takes its share of each
    epoch and rank 0 writes.

    \b
    Examples:
      mmprep train --store synth.zarr --out runs/tiny --backbone tiny --epochs 10
      mmprep train --config stage2.toml --out runs/stage2 --placeholder mask+indicator --text-dropout 0.3
      mmprep train --resume runs/stage2
      torchrun --nproc_per_node 2 -m prep train --store s.zarr --out runs/ddp --backbone tiny
    """
    from ..train.loop import train as run_training  # torch and transformers load only when training

    given = {k: v for k, v in flags.items() if v is not None}
    if resume:
        if out or config_file:
            raise InputError("--resume continues a run with its own configuration: leave out --out and --config")
        config, run_dir = resumed_config(resume, given), resume
    else:
        if out is None:
            raise InputError("give the new run's directory with --out (or --resume RUN_DIR to continue one)")
        config, run_dir = resolve(load_toml(config_file) if config_file else {}, given), new_run(out)
    summary = run_training(config, run_dir, resume=resume is not None, progress=not quiet)
    click.echo(json.dumps({"run": str(run_dir), **summary}))
