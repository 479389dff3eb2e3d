"""Commands that move poses in and out of a store: import, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..interop import EXPORT_FORMATS, FORMATS, commit_incoming, export_poses, open_source
from ..store import open_store
from .base import main
from .options import store_option


class FrameSize(click.ParamType):
    """WIDTHxHEIGHT, e.g. 512x512."""

    name = "WxH"

    def convert(self, value, param, ctx) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        width, _, height = str(value).lower().partition("x")
        if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
            self.fail(f"expected WIDTHxHEIGHT in pixels, e.g. 512x512, not {value!r}", param, ctx)
        return int(width), int(height)


@main.command(name="import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@store_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="pose: .pose files (a file or a folder); h5: an mmprep HDF5 file; unisign: Uni-Sign's RTMPose "
                   ".pkl files (a file or a folder). Default: from PATH (a folder: pose).")  # fmt: skip
@click.option("--fps", type=click.FloatRange(min=0, min_open=True),
              help="--format unisign: the frame rate of the videos the poses came from (the files lack it).")  # fmt: skip
@click.option("--frame-size", type=FrameSize(),
              help="--format unisign: WIDTHxHEIGHT of those videos, e.g. 512x512 (the files lack it).")  # fmt: skip
def import_command(path, store_url, storage_options, fmt, fps, frame_size):
    """Import existing poses into the store, so they need no extraction.

    PATH is a .pose file, a folder of them (searched recursively), or an HDF5 file written by
    `mmprep export --format h5`. A .pose file's id is its path under the folder without the suffix
    (signer1/clip7.pose -> signer1/clip7); its rows get no split or translation: attach a manifest
    with `mmprep manifest` (before or after). MediaPipe Holistic .pose files (576 or 586 points) keep
    pose, face (468 or 478 points) and both hands; POSE_WORLD_LANDMARKS is dropped. Both face meshes
    go into one store: the store keeps the first one it gets (or the one it holds); a refined face (478)
    in a 468-point store loses its 10 iris points, a 468-point face in a refined store gets them as
    missing (confidence 0), and a note says how many videos were fitted.

    Uni-Sign's pose files (RTMPose, COCO-WholeBody: 133 points, one .pkl per video with keypoints and
    scores) go into a store of their own layout, rtmpose-coco-wholebody, whose `upper` points are the 69
    Uni-Sign trains on; they hold no frame rate or size, so give --fps and --frame-size.

    Rerunning is cheap: a video whose content the store already holds (same fingerprint: a .pose file's
    SHA-256) is skipped, a changed one replaced. A file that cannot be used is recorded as failed with
    its error, the others are imported, and the exit status is 1.

    \b
    Examples:
      mmprep import poses/ --store csl.zarr
      mmprep import csl.h5 --store s3://bucket/csl.zarr
      mmprep import CSL_Daily/pose_format --format unisign --fps 30 --frame-size 512x512 --store unisign.zarr
    """
    with (
        open_source(path, fmt, fps, frame_size) as source,
        open_store(store_url, mode="a", storage_options=storage_options) as store,
    ):
        report = commit_incoming(store, source)
    click.echo(f"{path}: {report.summary()} into {store_url}")
    if report.dropped:
        click.echo(f"dropped components (the store has no place for them): {', '.join(sorted(report.dropped))}")
    for note in report.notes():
        click.echo(f"note: {note}")
    for what, error in report.failed:
        click.echo(f"  failed: {what}: {error}", err=True)
    if report.failed:
        sys.exit(1)


@main.command(name="export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="pose: one pose-format .pose file per video; h5: one HDF5 file.")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="A folder for --format pose, a file for --format h5.")  # fmt: skip
@click.option("--ids", multiple=True, metavar="ID", help="Only this video (repeatable). Default: all.")
@click.option(
    "--ids-from", type=click.File(encoding="utf-8"), help="Only the videos listed in this file, one id a line."
)
@store_option
def export_command(fmt, out, ids, ids_from, store_url, storage_options):
    """Export the store's poses for other tools.

    --format pose writes <out>/<id>.pose for every extracted video: pose-format v0.2, MediaPipe Holistic
    components (POSE_LANDMARKS, FACE_LANDMARKS, LEFT_HAND_LANDMARKS, RIGHT_HAND_LANDMARKS), x and y
    in pixels, confidences, fps, width and height; pose-format's Pose.read opens them. .pose has no
    frame timestamps (only fps). --format h5 writes the whole table and every pose and timestamp to one
    HDF5 file (layout in docs/interop.md); `mmprep import` reads both back.

    \b
    Examples:
      mmprep export --format pose --out poses/ --store csl.zarr
      mmprep export --format h5 --out dev.h5 --ids-from dev-ids.txt
    """
    wanted = [*ids, *(line.strip() for line in ids_from or () if line.strip())]
    with open_store(store_url, storage_options=storage_options) as store:
        report = export_poses(store, fmt, out, wanted or None)
    click.echo(f"{out}: {report.summary()} from {store_url}")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
