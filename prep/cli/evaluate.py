"""`mmprep eval` and `mmprep report`."""

from __future__ import annotations

from pathlib import Path

import click

from .base import main
from .options import decoding_options, store_option

RUN_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@main.command("eval")
@click.argument("run_dir", type=RUN_DIR)
@store_option(of_run=True)
@click.option("--split", type=click.Choice(["dev", "test", "train"]), default="dev", show_default=True)
@decoding_options
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), help="Videos per batch [default: the run's].")
@click.option("--max-videos", type=click.IntRange(min=1), help="Evaluate only the split's first N videos.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--bootstrap", "resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Paired-bootstrap resamples for the delta BLEU interval.")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--tokenize",
    metavar="NAME",
    help="sacrebleu's tokeniser for BLEU and ROUGE-L (zh, 13a, intl, char, none, ...) [default: zh for a Chinese "
    "store (character-level BLEU, as CSL-Daily papers report it), 13a otherwise; see docs/eval.md].",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The report's path [default: RUN_DIR/eval/SPLIT-MODE.json, SPLIT-MODE-beamN.json with --beam N above 1; "
    "with --store of another store, SPLIT-MODE.on-STORE.json, beside the run's own]; predictions go beside it "
    "(.predictions.jsonl).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def eval_command(run_dir, store_url, storage_options, split, mode, alpha, factor, beams, checkpoint, batch_size,
             max_videos, device, resamples, seed, tokenize, out, quiet):  # fmt: skip
    """Evaluate a trained run: BLEU-1..4 and ROUGE-L with and without text, and the consistency check.

    Every video is translated in scenario A (its real description where it has one) and scenario B (the
    placeholder for every video), and scored under teacher forcing on its reference. The consistency metrics
    (delta BLEU, KL, confidence std, Spearman: docs/missing-modality.md#5-consistency-verification) are judged
    against their targets, over all videos and over the videos that have text. Without --store, the store the
    run was trained on. Deterministic: the same run and options give the same report.

    \b
    Examples:
      mmprep eval runs/stage2
      mmprep eval runs/stage2 --split test --mode conservative --alpha 0.5 --beam 4
      mmprep eval runs/stage2 --mode ensemble --store s3://bucket/csl.zarr
    """
    from ..evaluate import InferenceMode, default_output, evaluate, render, write
    from ..train.run_dir import is_run_store

    inference = InferenceMode(mode, alpha, factor)
    report, videos = evaluate(
        run_dir, split=split, mode=inference, beams=beams, checkpoint=checkpoint, store_url=store_url,
        storage_options=storage_options, batch_size=batch_size, max_videos=max_videos, device=device,
        resamples=resamples, seed=seed, progress=not quiet, tokenize=tokenize,
    )  # fmt: skip
    if out is None:
        other = store_url if store_url and not is_run_store(run_dir, store_url) else None
        out = default_output(run_dir, split, inference, beams, other_store=other)
        if other:
            click.echo(f"note: {other} is not the store the run was trained on: the report goes to {out}, beside "
                       f"the run's own ({default_output(run_dir, split, inference, beams).name})", err=True)  # fmt: skip
    path = write(report, videos, out)
    click.echo(render(report))
    click.echo(f"\nwrote {path} and {path.name.removesuffix('.json')}.predictions.jsonl beside it")


@main.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.html and its PNGs [default: RUN_DIR/report].",
)
@click.option(
    "--pose-only",
    type=RUN_DIR,
    help="The same configuration trained without text (--text-dropout 1.0) and evaluated on the same split: "
    "the page then says whether this model, without the description, is worse than it.",
)
def report(run_dir, out, pose_only):
    """Write an HTML report of a run: does it use the description, then its training, gates and evaluations.

    The page opens with two answers, from the run's evaluation (missing-aware; the test split if evaluated,
    else dev): does the model use the description (BLEU-4 with it and without it on the videos that have
    one), and is it worse without it than a model that never saw text (with --pose-only; without, the page
    says what to run). Then the training curves, the missing-text machinery, every evaluation in
    RUN_DIR/eval/ with its consistency check, and example translations. Reads RUN_DIR/metrics.jsonl and the
    evaluations (run `mmprep eval` first). The page and its PNGs go into one folder that can be moved or
    shared as it is. The two answers are printed too.

    \b
    Examples:
      mmprep eval runs/stage2 --split test && mmprep report runs/stage2
      mmprep train --config runs/stage2/config.toml --out runs/stage2-pose-only --text-dropout 1.0
      mmprep eval runs/stage2-pose-only --split test
      mmprep report runs/stage2 --pose-only runs/stage2-pose-only
    """
    from ..analysis.answers import answer
    from ..analysis.report import read_evaluations, write_report

    page = write_report(run_dir, out, pose_only)
    for line in answer(run_dir, read_evaluations(run_dir), pose_only):
        click.echo(line.line())
    click.echo(f"wrote {page} (open it in a browser)")
