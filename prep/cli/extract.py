"""``mmprep extract``: keypoints of a folder of videos into the store."""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

import click

from .. import forkserver
from ..extract.holistic import ensure_pose_model, require_mediapipe
from ..extract.videos import VIDEO_SUFFIXES, find_videos
from ..extract.workers import start_server
from ..store import open_store
from ..store.manifest import read_manifest
from .base import main
from .options import store_option

if TYPE_CHECKING:
    from ..extract.run import Summary

EXIT_SOME_FAILED = 3
MAX_LISTED = 20


def extraction_options(func):
    """The options of an extraction run, shared by `extract` and `prepare --extract`; the command gets them as
    ``extraction`` (a dict of ``run_extraction``'s keyword arguments)."""
    options = [
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            help="Worker processes of the local dask cluster, one thread each. [default: one per core]",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="Run on an existing dask cluster (e.g. tcp://10.0.0.5:8786) instead of a local one. Its workers "
            "need this mmprep installed and must be able to read the video paths; docs/scaling.md gives the "
            "scheduler and worker commands.",
        ),
        click.option(
            "--stride", type=click.IntRange(min=1), default=1, show_default=True, help="Keep every K-th frame."
        ),
        click.option(
            "--max-frames", type=click.IntRange(min=1), help="Keep at most N frames of each video (its first ones)."
        ),
        click.option("--refine-face", is_flag=True, help="478 face points (irises included) instead of 468."),
        click.option(
            "--model-complexity",
            type=click.IntRange(0, 2),
            default=1,
            show_default=True,
            help="MediaPipe's pose model: 1 ships with mediapipe; 0 (lite) and 2 (heavy) are downloaded on first use.",
        ),
        click.option("--force", is_flag=True, help="Extract every video again, even unchanged ones."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]
    names = ("workers", "scheduler", "stride", "max_frames", "refine_face", "model_complexity", "force", "quiet")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        extraction = {name: kwargs.pop(name) for name in names}
        if extraction["workers"] and extraction["scheduler"]:
            raise click.UsageError(
                "--workers sizes the local cluster; with --scheduler the cluster has its own workers"
            )
        return func(*args, extraction=extraction, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def run_extraction(store_url: str, storage_options: dict, videos: list, rows: list[dict] | None, fps: float | None, *,
                   workers, scheduler, stride, max_frames, refine_face, model_complexity, force, quiet) -> None:  # fmt: skip
    """Extract ``videos`` (attaching the manifest ``rows`` first, if given), report, and exit 3 if any failed."""
    if not scheduler:
        start_server()  # no-op when already started: the workers' server imports MediaPipe meanwhile
    try:
        from ..extract.run import ExtractOptions, extract  # dask and PyAV load only when this command runs

        options = ExtractOptions(stride, max_frames, refine_face, model_complexity, fps)
        ensure_pose_model(model_complexity)
        with open_store(store_url, mode="a", storage_options=storage_options) as store:
            summary = extract(store, videos, options, manifest=rows, workers=workers, scheduler=scheduler,
                              force=force, progress=not quiet)  # fmt: skip
    finally:
        forkserver.stop()  # when no cluster was started (an error, nothing to extract)
    report(summary, store_url)
    if summary.failures:
        sys.exit(EXIT_SOME_FAILED)


@main.command(name="extract")
@click.argument("videos", type=click.Path(exists=True))
@store_option
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False),
    help="Attach this manifest (as `mmprep manifest` does) and extract only its ids.",
)
@click.option(
    "--glob",
    metavar="PATTERN",
    help=f"Which files are videos, relative to VIDEOS (e.g. '**/*.mts'). [default: {' '.join('*' + s for s in VIDEO_SUFFIXES)} and folders of frames, in every folder]",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    help="The frame rate of folders of frames (*.jpg|*.jpeg|*.png, one folder a video); needed when VIDEOS has any.",
)
@extraction_options
def extract_command(videos, store_url, storage_options, manifest, glob, fps, extraction):
    """Extract MediaPipe Holistic keypoints of every video under VIDEOS into the store, in parallel.

    A video's id is its path under VIDEOS without the suffix (signer1/clip7). A folder that directly holds
    image frames is one video too: its id is its path, its frames are its *.jpg|*.jpeg|*.png files in natural
    order (2.png before 10.png), timed by --fps. Each video is committed as soon as it is done; a rerun skips
    every video whose content and settings are unchanged since, so an interrupted run (Ctrl-C, kill, a crashed
    machine) is finished by running the same command again: the lock of a run killed on this host is taken
    over by itself (one of another host, or on S3, needs `mmprep unlock`). A video that cannot be decoded (for
    a frame folder: a missing or unreadable frame, frames of mixed sizes; a link to a missing file) is recorded
    as failed with the reason, one with nobody in it as no_person; neither stops the run. A video whose worker
    crashed twice is failed and retried next run.

    Exit status: 0 when every video is ok or no_person, 3 when some failed (they are listed, and in
    `mmprep info`), 1 on an error that stopped the run, 130 on Ctrl-C.

    \b
    Examples:
      mmprep extract videos/ --store csl.zarr --manifest csl-daily.tsv
      mmprep extract videos/ --store csl.zarr --scheduler tcp://10.0.0.5:8786
      mmprep extract CSL-Daily/sentence/frames_512x512 --fps 30 --store csl.zarr
    """
    require_mediapipe()
    if not extraction["scheduler"]:
        # First thing: the local workers' server imports MediaPipe on another core while this process loads the
        # rest (PyAV, dask) and finds the videos. Stopped whatever happens (run_extraction stops it too).
        start_server()
    try:
        found = find_videos(videos, glob)
        folders = sum(os.path.isdir(v.path) for v in found)
        if folders and not fps:
            raise click.UsageError(f"{videos} holds {folders} folder(s) of frames; give their frame rate with --fps")
        rows = read_manifest(manifest) if manifest else None
        run_extraction(store_url, storage_options, found, rows, fps, **extraction)
    finally:
        forkserver.stop()


def report(summary: Summary, store_url: str) -> None:
    if summary.missing:
        shown = ", ".join(summary.missing[:MAX_LISTED]) + (" ..." if len(summary.missing) > MAX_LISTED else "")
        click.echo(f"warning: {len(summary.missing)} manifest id(s) have no video: {shown}", err=True)
    if summary.unlisted:
        click.echo(f"{summary.unlisted} video(s) not in the manifest were left out", err=True)
    if summary.extracted:
        counts = ", ".join(f"{status} {n}" for status, n in summary.counts.items())
        rate = summary.frames / summary.seconds if summary.seconds else 0.0
        done = (f"extracted {summary.extracted} ({counts}): {summary.frames} frames in {summary.seconds:.1f} s, "
                f"{rate:.1f} frames/s; skipped {summary.skipped} unchanged")  # fmt: skip
    else:
        done = f"nothing to extract: all {summary.skipped} unchanged since they were extracted"
    click.echo(f"{store_url}: found {summary.found} video(s); {done}")
    if summary.failures:
        click.echo(f"{len(summary.failures)} video(s) failed (exit status {EXIT_SOME_FAILED}):", err=True)
        for video_id, error in summary.failures[:MAX_LISTED]:
            click.echo(f"  {video_id}: {error}", err=True)
        if len(summary.failures) > MAX_LISTED:
            click.echo(
                f"  ... and {len(summary.failures) - MAX_LISTED} more; see `mmprep info --store {store_url}`", err=True
            )
