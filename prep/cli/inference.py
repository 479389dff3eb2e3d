"""`mmprep translate` and `mmprep export-model`: using a trained model (prep/inference).

`export-model` is here, not beside `mmprep export` (prep/cli/interop.py): that one writes the store's keypoints in
other tools' formats; this one packs a trained model for `translate`, and the two share the model's spec."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .base import main
from .options import decoding_options, store_option

EXIT_SOME_FAILED = 3  # as `mmprep extract`: some videos failed, the others are done


@main.command("translate")
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("videos", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--description", help="The description of the (one) video. Without one, the placeholder stands in.")
@click.option(
    "--descriptions",
    "descriptions_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of id, description rows (CSV, TSV or JSONL, as for `mmprep encode-text`) for many videos.",
)
@click.option(
    "--text-model",
    metavar="FOLDER",
    help="The text encoder's folder, when it is no longer where the store's text provenance says [default: that].",
)
@decoding_options
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Which checkpoint of a run (an exported model has one).")  # fmt: skip
@store_option(of_run=True)
@click.option("--glob", metavar="PATTERN", help="Which files of a folder are videos (as for `mmprep extract`).")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Extraction processes for several videos [default: one per core]."
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one JSON object per video to this file (JSONL) instead of printing translations.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def translate_command(model, videos, description, descriptions_file, text_model, mode, alpha, factor, beams,
                      checkpoint, store_url, storage_options, glob, workers, device, out, quiet):  # fmt: skip
    """Translate new videos with a trained run (RUN_DIR) or an exported model (`mmprep export-model`).

    Each video's keypoints are extracted with the settings of the run's store, its points selected and
    normalised as in training, and its description (if given) encoded with the store's text encoder; then it
    is decoded as `mmprep eval` decodes: a video of the store translates exactly as eval translated it.
    VIDEOS are files or folders (searched as `mmprep extract` searches them; a video's id is its path under
    the folder). Several videos are extracted in parallel. Extraction needs MediaPipe (`pip install
    'mmprep[mediapipe]'`); a .pose file (pose-format's, as `mmprep import` reads it) is a video whose keypoints
    were extracted elsewhere and needs none (a folder of them: --glob '**/*.pose'). With --out, each line holds id, source,
    translation, has_text, mode, alpha, factor, beams, the fusion's text weight (gate_opening, the gate's mean
    opening, for a model trained with --fusion gate; text_norm_share, the text step's share of the input norm,
    with token fusion) and confidence (the mean top token probability of the output), or id, source and error
    for a video that failed; the others go on.

    Exit status: 0 when every video was translated, 3 when some failed (they are listed), 1 on an error.

    \b
    Examples:
      mmprep translate runs/stage2 clip.mp4
      mmprep translate runs/stage2 clip.pose
      mmprep translate runs/stage2 clip.mp4 --description "一位女士在室内打手语。" --text-model mt5-base/
      mmprep translate models/stage2 videos/ --descriptions descriptions.jsonl --out translations.jsonl
      mmprep translate runs/stage2 videos/ --mode conservative --alpha 0.5 --beam 4 --out t.jsonl
    """
    from ..evaluate import InferenceMode
    from ..inference import Translator, descriptions_for
    from ..inference.extraction import find_all

    if description is not None and descriptions_file is not None:
        raise click.UsageError("give --description (one video) or --descriptions FILE (many), not both")
    inference = InferenceMode(mode, alpha, factor)
    found = find_all(list(videos), glob)
    if description is not None and len(found) != 1:
        raise click.UsageError(f"--description is for one video; these are {len(found)}: use --descriptions FILE")
    texts, unused = descriptions_for(found, description, descriptions_file)
    if unused:
        click.echo(f"note: {len(unused)} id(s) of {descriptions_file} are not among the videos, e.g. {unused[0]}",
                   err=True)  # fmt: skip
    translator = Translator.open(model, checkpoint=checkpoint, mode=inference, beams=beams, text_model=text_model,
                                 store_url=store_url, storage_options=storage_options, device=device)  # fmt: skip
    failures = _print_translations(translator.translate_many(found, texts, workers), translator.notes, len(found),
                                   out, quiet)  # fmt: skip
    if out:
        click.echo(f"wrote {len(found) - failures} translation(s) to {out}", err=True)
    if failures:
        click.echo(f"{failures} of {len(found)} video(s) failed (exit status {EXIT_SOME_FAILED})", err=True)
        sys.exit(EXIT_SOME_FAILED)


def _print_translations(records, notes: list[str], total: int, out: Path | None, quiet: bool) -> int:
    """Print each translation (or write it to ``out`` as a JSONL line) as it comes, with the translator's
    ``notes`` and failures on stderr; returns how many failed."""
    from tqdm import tqdm

    failures = 0
    sink = open(out, "w", encoding="utf-8") if out else None  # noqa: SIM115 (closed below, also on Ctrl-C)
    try:
        with tqdm(total=total, unit="video", desc="translating", disable=True if quiet else None,
                  file=sys.stderr) as bar:  # fmt: skip
            for record in records:
                bar.update(1)
                for note in notes:
                    tqdm.write(f"note: {note}", file=sys.stderr)
                notes.clear()
                if "error" in record:
                    failures += 1
                    tqdm.write(f"{record['id']}: failed: {record['error']}", file=sys.stderr)
                if sink:
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                    sink.flush()
                elif "error" not in record:
                    click.echo(record["translation"] if total == 1 else f"{record['id']}\t{record['translation']}")
    finally:
        if sink:
            sink.close()
    return failures


@main.command("export-model")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The new folder.")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@store_option(of_run=True)
def export_model_command(run_dir, out, checkpoint, store_url, storage_options):
    """Export a trained run as a self-contained folder for `mmprep translate` and `Translator.from_pretrained`.

    The folder holds the backbone and its tokenizer (save_pretrained, safetensors), the pose encoder, placeholder
    and fusion weights (safetensors), the configuration as JSON (points, normalisation, extraction settings,
    the text encoder's provenance, the sha256 of every weight file) and a model card (README.md) with the
    run's data, strategy and every `mmprep eval` report found in RUN_DIR/eval (run eval first). Loading it
    needs no store and no network and unpickles nothing. The text encoder is not copied: translating with
    descriptions needs it (--text-model FOLDER where it has moved).

    \b
    Example:
      mmprep eval runs/stage2 --split test && mmprep export-model runs/stage2 --out models/stage2
      mmprep translate models/stage2 clip.mp4
    """
    from ..inference import export_model

    folder, notes = export_model(run_dir, out, checkpoint, store_url, storage_options)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {folder} (model card: {folder / 'README.md'})")
