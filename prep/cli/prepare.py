"""``mmprep prepare``: a public corpus's own annotation files and frame folders into the store."""

from __future__ import annotations

import inspect
from pathlib import Path

import click

from ..corpora import RECIPES, attach, join_descriptions
from ..extract.holistic import require_mediapipe
from ..store import open_store
from .base import main
from .extract import extraction_options, run_extraction
from .options import delimiter_option, store_option

HELP = inspect.cleandoc(
    """Read a corpus as it ships (annotations and frame folders under ROOT) into the store's manifest.

    Ids are the corpus's own sentence names; splits, translations, glosses and signers come from its
    annotation files, and the store records the translations' language (BLEU's tokenisation follows it).
    Nothing is written unless the annotation files are valid (every problem is listed with file and line).
    Sentences without a frame folder, frame folders without a label and names without a label are listed
    and left out of the extraction (or of the manifest); an empty frame folder is extracted as failed.
    With --extract the frame folders are extracted at the corpus's frame rate, with the options of `mmprep
    extract`; a rerun skips what is done.

    \b
    Corpora and the files read under ROOT:
    {corpora}

    \b
    Examples:
      mmprep prepare csl-daily /data/CSL-Daily --store csl.zarr --extract
      mmprep prepare phoenix-2014t /data/PHOENIX-2014-T-release-v3/PHOENIX-2014-T --store phoenix.zarr
      mmprep prepare csl-daily /data/CSL-Daily --descriptions captions.jsonl --store csl.zarr
    """
).format(corpora="\n".join(f"  {name}: {recipe.layout} ({recipe.fps:g} fps)" for name, recipe in RECIPES.items()))


@main.command(help=HELP)
@click.argument("corpus", type=click.Choice(list(RECIPES)))
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_option
@click.option(
    "--descriptions",
    type=click.Path(exists=True, dir_okay=False),
    help="Join these descriptions (id, description: CSV, TSV, |-separated .txt or JSONL, as `mmprep encode-text` "
    "reads them) into the manifest, by the corpus's own sentence names.",
)
@delimiter_option
@click.option(
    "--frames-outside-root",
    is_flag=True,
    help="Let the annotation files point at frames outside ROOT (PHOENIX's video column: an absolute path, or one "
    "with '..'); without it such a row is refused, naming its file and line.",
)
@click.option("--extract", "then_extract", is_flag=True, help="Go on to extract every sentence's frame folder.")
@extraction_options
def prepare(corpus, root, store_url, storage_options, descriptions, delimiter, frames_outside_root, then_extract,
            extraction):  # fmt: skip
    if then_extract:
        require_mediapipe(
            "`mmprep prepare --extract`", f"`mmprep prepare {corpus}` without --extract needs no MediaPipe."
        )
    recipe = RECIPES[corpus]
    prepared = recipe.read(root, frames_outside_root)
    if descriptions:
        join_descriptions(prepared, descriptions, delimiter)
    with open_store(store_url, mode="a", storage_options=storage_options) as store:
        added, updated = attach(store, prepared)
    counts = ", ".join(f"{split} {n}" for split, n in prepared.counts().items())
    with_text = sum(bool(row.get("description", "").strip()) for row in prepared.rows)
    click.echo(
        f"{root}: {corpus}: {len(prepared.rows)} sentences ({counts}); {added} added, {updated} updated in {store_url}"
        + (f"; {with_text} with a description" if descriptions else "")
    )
    for warning in prepared.warnings():
        click.echo(f"warning: {warning}", err=True)
    if then_extract:
        run_extraction(store_url, storage_options, prepared.videos, None, recipe.fps, **extraction)
