"""``mmprep inspect`` (a quality report of a store's keypoints) and ``mmprep render`` (one video's skeleton as a
clip)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ..inspect.flags import DEFAULTS, FLAGS, Thresholds
from ..inspect.report import SPLITS
from ..store import open_store
from .base import main
from .options import store_option


@main.command(name="inspect")
@store_option
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write inspect.json and index.html into (created if needed).")  # fmt: skip
@click.option("--split", "splits", multiple=True, type=click.Choice(SPLITS),
              help="Inspect only this split (repeatable). [default: every video]")  # fmt: skip
@click.option("--worst", type=click.IntRange(min=0), default=12, show_default=True,
              help="How many of the worst videos get a strip of frames with their skeleton on the page.")  # fmt: skip
@click.option("--max-hands-missing", type=click.FloatRange(0, 100), default=DEFAULTS.max_hands_missing,
              show_default=True, help="Flag hands_missing: no hand in more than this % of the frames.")  # fmt: skip
@click.option("--max-gap", type=click.FloatRange(min=0), default=DEFAULTS.max_gap, show_default=True,
              help="Flag long_gap: a run of more than this many seconds with no hand.")  # fmt: skip
@click.option("--min-signer-size", type=click.FloatRange(min=0), default=DEFAULTS.min_signer_size, show_default=True,
              help="Flag small_signer: shoulders narrower than this share of the frame's longer side.")  # fmt: skip
@click.option("--max-hand-speed", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS.max_hand_speed,
              show_default=True, help="A hand step faster than this many shoulder widths per second is jitter.")  # fmt: skip
@click.option("--max-jitter", type=click.FloatRange(0, 100), default=DEFAULTS.max_jitter, show_default=True,
              help="Flag jitter: more than this % of a video's hand steps are jitter.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def inspect_command(store_url, storage_options, out, splits, worst, quiet, **thresholds):
    """Check the keypoints of every ok video: a quality report, OUT/inspect.json and OUT/index.html.

    Per video: the share of frames in which the pose, the face and each hand were found, the longest run
    with no hand, the signer's size in the frame and the hand steps too fast for a signer (jitter), with
    flags for what crosses a threshold. The page shows the figures' distributions per split, the flagged
    videos first, and the worst videos as strips of frames with the skeleton drawn over the video (when
    its source file is reachable here; on a plain background otherwise). docs/inspect.md explains each
    figure; inspect.json follows schemas/inspect.schema.json.

    \b
    Examples:
      mmprep inspect --store csl.zarr --out csl-inspect
      mmprep inspect --split test --max-hands-missing 30 --worst 20 --out test-inspect
    """
    from ..inspect.report import write_inspection  # numpy, PIL, matplotlib: when the command runs

    with open_store(store_url, storage_options=storage_options) as store:
        report = write_inspection(store, out, splits, Thresholds(**thresholds), worst, progress=not quiet)
    counts = ", ".join(f"{flag} {report['flagged'][flag]}" for flag in FLAGS)
    click.echo(f"{out / 'index.html'}: {report['n_videos']} videos, {report['flagged']['total']} flagged ({counts})")


@main.command(name="render")
@click.argument("video")
@store_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The clip to write: .mp4 (H.264) or .gif.")  # fmt: skip
@click.option("--over-video/--no-over-video", default=True, show_default=True,
              help="Draw over the source video when it is reachable (else on a plain background).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def render_command(video, store_url, storage_options, out, over_video, quiet):
    """Draw VIDEO's skeleton frame by frame into a clip: VIDEO is a video id of the store, or a .pose file.

    One frame per stored frame, at the stored frame rate and size (a GIF's frame times are rounded to
    hundredths of a second). The hands' points and bones stand out in their own colours over the pose
    and the face's outline. The source video is read from the path the store recorded at extraction, if
    it is there and unchanged; a .pose file is drawn on a plain background.

    \b
    Examples:
      mmprep render signer1/clip7 --store csl.zarr --out clip7.mp4
      mmprep render poses/clip7.pose --out clip7.gif
    """
    from ..inspect.clip import file_poses, render, store_poses
    from ..interop.pose_format import is_pose_file

    if is_pose_file(video):
        if not Path(video).is_file():
            raise InputError(f"{video}: no such .pose file")
        poses = file_poses(Path(video))
    else:
        with open_store(store_url, storage_options=storage_options) as store:
            if video not in store:
                raise InputError(f"no video {video!r} in {store_url}; give a video id of the store or a .pose file")
            poses = store_poses(store, video)
    plain = render(poses, out, over_video, progress=not quiet)
    if plain:
        click.echo(f"note: drawn on a plain background: {plain}", err=True)
    width, height = poses.size
    click.echo(f"{out}: {len(poses.times)} frames at {poses.fps:.3f} fps, {width}x{height}")
