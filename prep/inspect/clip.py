"""`mmprep render`: one video's skeleton drawn frame by frame into an .mp4 (H.264) or a .gif, over the source
video when it can be read (``source``), on a plain background otherwise; one output frame per stored frame, at
the stored frame rate and size.

A GIF times its frames in hundredths of a second, so its rate is the nearest that allows (30 fps plays at 33.3);
an .mp4 keeps the rate exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import InputError
from ..interop.pose_format import load_pose_file
from ..layout import Layout
from ..store import Store
from .drawing import blank, draw, resize
from .skeleton import skeleton
from .source import source_frames, unreachable

SUFFIXES = (".mp4", ".gif")


@dataclass
class Poses:
    """One video's poses, as render draws them."""

    name: str
    layout: Layout
    xyz: np.ndarray  # [T, P, 3] normalised to the frame
    conf: np.ndarray  # [T, P]
    times: np.ndarray  # [T] seconds
    fps: float
    size: tuple[int, int]  # width, height
    video: dict | None  # its store row, where the source is recorded; None for a .pose file


def store_poses(store: Store, video_id: str) -> Poses:
    video = store.video(video_id)
    xyz, conf = store.pose(video_id)
    return Poses(video_id, store.layout, xyz, conf, store.timestamps(video_id), video["fps"],
                 (video["width"], video["height"]), video)  # fmt: skip


def file_poses(path: Path) -> Poses:
    loaded = load_pose_file(path.stem, path)
    result = loaded.result
    if result.status != "ok":
        raise InputError(f"{path}: no point of it has a confidence above 0; there is nothing to draw")
    return Poses(str(path), loaded.layout, result.xyz, result.conf, result.time, result.fps,
                 (result.width, result.height), None)  # fmt: skip


def render(poses: Poses, out: Path, over_video: bool = True, progress: bool = False) -> str | None:
    """Write ``out`` (.mp4 or .gif); returns why the skeleton is on a plain background, when it is and
    ``over_video`` asked for the video."""
    if out.suffix.lower() not in SUFFIXES:
        raise InputError(f"{out}: render writes .mp4 or .gif files, not {out.suffix or 'a name without a suffix'}")
    why = None
    n = len(poses.times)
    backgrounds: Iterable[np.ndarray | None] = [None] * n
    if over_video:
        why = "no source video is recorded for a .pose file" if poses.video is None else unreachable(poses.video)
        if why is None:
            backgrounds = source_frames(poses.video, poses.times, range(n))
    bones = skeleton(poses.layout)
    frames = (
        draw(blank(poses.size) if frame is None else resize(frame, poses.size), poses.xyz[k], poses.conf[k], bones)
        for k, frame in enumerate(backgrounds)
    )
    frames = tqdm(frames, total=n, unit="frame", desc="render", disable=not progress or None)
    out.parent.mkdir(parents=True, exist_ok=True)
    (write_gif if out.suffix.lower() == ".gif" else write_mp4)(frames, out, poses.fps)
    return why


def write_mp4(frames: Iterable[np.ndarray], out: Path, fps: float) -> None:
    """H.264 (yuv420p, which needs an even width and height: an odd one gets a row or column of background)."""
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(100_000), options={"crf": "18"})
        size = None
        for rgb in frames:
            height, width = rgb.shape[:2]
            if size is None:
                size = (width + width % 2, height + height % 2)
                stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
            if (width, height) != size:
                padded = blank(size)
                padded[:height, :width] = rgb
                rgb = padded
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


def write_gif(frames: Iterable[np.ndarray], out: Path, fps: float) -> None:
    """An endlessly looping GIF; each frame reduced to its own 256 colours as it comes."""
    images = [Image.fromarray(rgb).quantize(256, dither=Image.Dither.NONE) for rgb in frames]
    images[0].save(out, save_all=True, append_images=images[1:], duration=1000 / fps, loop=0)
