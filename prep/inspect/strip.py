"""A strip of frames of one video with its skeleton drawn, for the page: evenly spaced frames from the first to
the last, over the video's frames when its source can be read (``source``), on a plain background otherwise."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..store import Store
from .clip import store_poses
from .drawing import blank, draw, resize
from .skeleton import skeleton
from .source import source_frames, unreachable

FRAMES = 8
BOX = (240, 180)  # the most pixels a thumbnail takes: width, height


@dataclass
class Strip:
    frames: list[int]  # stored frame indices
    times: list[float]  # their timestamps, seconds
    jpegs: list[bytes]  # one thumbnail each
    plain: str | None  # why the background is plain; None when it is the video


def thumbnail_size(size: tuple[int, int], box: tuple[int, int] = BOX) -> tuple[int, int]:
    """``size`` (width, height) scaled to fit ``box``; a square box when the size is unknown (0)."""
    width, height = size if all(size) else (1, 1)
    scale = min(box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_strip(store: Store, video_id: str, frames: int = FRAMES) -> Strip:
    poses = store_poses(store, video_id)
    wanted = sorted({int(k) for k in np.linspace(0, len(poses.times) - 1, frames).round()})
    size = thumbnail_size(poses.size)
    plain = unreachable(poses.video)
    backgrounds = [None] * len(wanted) if plain else source_frames(poses.video, poses.times, wanted)
    bones = skeleton(poses.layout)
    jpegs = []
    for k, frame in zip(wanted, backgrounds, strict=True):
        drawn = draw(blank(size) if frame is None else resize(frame, size), poses.xyz[k], poses.conf[k], bones)
        buffer = io.BytesIO()
        Image.fromarray(drawn).save(buffer, format="JPEG", quality=85)
        jpegs.append(buffer.getvalue())
    return Strip(wanted, [float(poses.times[k]) for k in wanted], jpegs, plain)
