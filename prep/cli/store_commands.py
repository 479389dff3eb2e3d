"""Commands about the store itself: manifest, info, validate, unlock."""

from __future__ import annotations

import json
import sys

import click

from ..store import Location, break_lock, open_store, validate
from ..store.info import render, summarize
from ..store.manifest import attach_manifest, read_manifest
from .base import main
from .options import delimiter_option, language_option, store_option


@main.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False))
@store_option
@delimiter_option
@language_option
def manifest(manifest, store_url, storage_options, delimiter, language):
    """Attach a manifest (CSV, TSV, |-separated .txt or JSONL: id, split, translation[, signer, gloss,
    description]) to the store.

    New ids become rows; the split and translation of known ids are updated. The store is created if it
    does not exist. Nothing is written unless every row is valid (schemas/manifest-row.schema.json). A
    corpus's own annotation files (CSL-Daily, PHOENIX-2014T) are read by `mmprep prepare`.

    \b
    Examples:
      mmprep manifest csl-daily.tsv --store csl.zarr --language zh
      mmprep manifest labels.txt --delimiter '|'
    """
    rows = read_manifest(manifest, delimiter)
    with open_store(store_url, mode="a", storage_options=storage_options) as store:
        added, updated = attach_manifest(store, rows)
        if language:
            store.set_language(language)
    click.echo(f"{manifest}: {len(rows)} rows; {added} added, {updated} updated in {store_url}")


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object (schemas/info.schema.json).")
def info(store_url, storage_options, as_json):
    """What the store holds: videos per split and status, text, frames, failures, mask_init.

    \b
    Example:
      mmprep info --store csl.zarr
      mmprep info --json | jq .status
    """
    with open_store(store_url, storage_options=storage_options) as store:
        summary = summarize(store)
        flagged = None if as_json else flagged_line(store)
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2) if as_json else render(summary))
    if flagged:
        click.echo(flagged)


def flagged_line(store) -> str | None:
    """The line that points at `mmprep inspect` when the default thresholds flag any video, else None."""
    from ..inspect.flags import FLAGS
    from ..inspect.report import inspect_store

    if store.layout is None:
        return None
    report = inspect_store(store)
    if not report["flagged"]["total"]:
        return None
    counts = ", ".join(f"{flag} {report['flagged'][flag]}" for flag in FLAGS if report["flagged"][flag])
    return (
        f"quality    {report['flagged']['total']} of {report['n_videos']} ok videos flagged ({counts}); "
        f"see `mmprep inspect --store {store.url} --out DIR`"
    )


@main.command(name="validate")
@store_option
@click.option("--quick", is_flag=True, help="Skip reading every frame's values (finite, confidences in [0, 1]).")
def validate_command(store_url, storage_options, quick):
    """Check the store against schemas/ and its own invariants; exit 1 listing every problem.

    \b
    Example:
      mmprep validate --store csl.zarr
    """
    with open_store(store_url, storage_options=storage_options) as store:
        problems = validate(store, check_values=not quick)
    if problems:
        click.echo(f"{store_url}: {len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(f"{store_url}: valid")


@main.command()
@store_option
@click.option("--force", is_flag=True, help="Also break a lock whose holder is alive or on another host.")
def unlock(store_url, storage_options, force):
    """Break the writer lock left by a run that died (e.g. kill -9) where a writer cannot decide alone.

    On a local disk the next writer takes over the lock of a dead holder of this host by itself; this
    command is for a holder on another host (a shared filesystem), which cannot be checked from here and needs
    --force, and for a store on S3, where a dead holder's lock cannot be replaced atomically. A holder that is
    still running is never broken without --force. Whatever the dead run committed is kept; rerun it.

    \b
    Example:
      mmprep unlock --store s3://slt/csl.zarr
      mmprep unlock --force --store /shared/csl.zarr
    """
    holder = break_lock(Location(store_url, storage_options), force=force)
    if holder is None:
        click.echo(f"{store_url}: not locked")
    else:
        click.echo(f"{store_url}: broke the lock of pid {holder.get('pid')} on {holder.get('host')}")
