"""The video a store's poses were extracted from, frame by frame as extraction saw them, when it can be read.

A source is drawn over only when it is still the file (or folder of frames) that was extracted: its content
fingerprint must match the one the store recorded. Frames are matched to the stored ones by their timestamps,
so a video extracted with --stride or --max-frames lines up too. Video files are decoded with PyAV (upright,
as extraction does); frames of a frame folder are read with Pillow (EXIF orientation applied), not OpenCV.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps

from ..extract.decode import DecodeError, VideoReader
from ..extract.frame_folder import frame_names
from ..extract.sources import source_fingerprint
from ..extract.videos import fingerprint_settings


def _content(fingerprint: str) -> str:
    """A fingerprint without its extraction settings (the part after the last ':')."""
    return fingerprint.rsplit(":", 1)[0]


def unreachable(video: dict) -> str | None:
    """Why the source of ``video`` (its store row) cannot be drawn over, or None when it can."""
    source = video["source"]
    if not source:
        return "the store records no source for it"
    if not os.path.exists(source):
        return f"its source {source} is not reachable from here"
    if os.path.isfile(source) and fingerprint_settings(video["fingerprint"]) is None:
        return f"its poses were not extracted from a video ({source})"
    try:
        current = source_fingerprint(source, "", video["fps"])
    except OSError as e:
        return f"its source {source} cannot be read: {e.strerror or e}"
    if _content(current) != _content(video["fingerprint"]):
        return f"its source {source} has changed since it was extracted"
    return None


def source_frames(video: dict, times: np.ndarray, wanted: Sequence[int]) -> Iterator[np.ndarray | None]:
    """RGB uint8 [H, W, 3] of the stored frames ``wanted`` (increasing indices into ``times``, the stored
    timestamps), one item each: None for a frame that cannot be found or decoded."""
    if os.path.isdir(video["source"]):
        yield from _folder_frames(video["source"], video["fps"], times, wanted)
        return
    tolerance = 0.25 / video["fps"]
    pending = list(wanted)
    try:
        with VideoReader(video["source"]) as reader:
            for frame in reader.frames():
                while pending and times[pending[0]] < frame.time - tolerance:
                    pending.pop(0)
                    yield None
                if not pending:
                    return
                if abs(times[pending[0]] - frame.time) <= tolerance:
                    pending.pop(0)
                    yield frame.rgb
    except DecodeError:
        pass  # the frames after the damage are not there
    yield from (None for _ in pending)


def _folder_frames(folder: str, fps: float, times: np.ndarray, wanted: Sequence[int]) -> Iterator[np.ndarray | None]:
    names = frame_names(folder)
    for k in wanted:
        index = round(times[k] * fps)  # a folder's frame i is timed i / fps
        try:
            with Image.open(os.path.join(folder, names[index])) as image:
                yield np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        except (IndexError, OSError):
            yield None
