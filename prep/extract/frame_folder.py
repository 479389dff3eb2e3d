"""A folder of image frames as one video: CSL-Daily's and PHOENIX-2014T's sentences are shipped this way.

A frame folder is a folder that directly holds ``*.jpg``, ``*.jpeg`` or ``*.png`` files (any case); its frames
are those files in natural order (``2.png`` before ``10.png``), timed ``i / fps`` by the frame rate the user
gives (``--fps``; a folder has none of its own). ``FolderReader`` reads it with the interface of
``decode.VideoReader``, so extraction treats both alike: RGB uint8 frames, each frame's time, a ``DecodeError``
naming the frame when one cannot be used (missing from a numbered run, unreadable, or of another size).

Frames are decoded with OpenCV (installed with mediapipe; PIL is about 2.5 times slower): on the sample's
frames it decodes JPEG faster per frame than PyAV decodes them as H.264, PNG 2-3.5 times slower (about 1 ms a
frame at PHOENIX's 210x260, against MediaPipe's ~50 ms; scripts/bench_extract.py --frames). PNG is lossless, so
a PNG folder written from a video holds exactly the frames that video decodes to, and MediaPipe gets the same
input from either.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .decode import DecodeError, Frame

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[^.]+)$")


def natural_key(name: str) -> list:
    """Sort key that orders runs of digits by value: ``img2.png`` < ``img10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def is_frame(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in FRAME_SUFFIXES


def frame_names(folder: str | Path, pattern: str | None = None) -> list[str]:
    """The frame files directly in ``folder``, in natural order; ``pattern`` (a glob such as ``*.png``)
    narrows them. Raises OSError when the folder cannot be listed."""
    names = [n for n in os.listdir(folder) if is_frame(n)]
    if pattern:
        names = [n for n in names if Path(n).match(pattern)]
    return sorted(names, key=natural_key)


def find_frame_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` (``root`` included) that directly holds frames; hidden folders are skipped
    and a frame folder's own subfolders are not searched."""
    found = []
    for folder, dirs, files in os.walk(root):
        if any(is_frame(name) for name in files):
            found.append(Path(folder))
            dirs.clear()
        else:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
    return found


def gap(names: list[str]) -> str | None:
    """The first frame missing from a numbered run (``000001.jpg, 000003.jpg``: ``000002.jpg``), when every name
    is one prefix, a number and one suffix; None otherwise. The run's step is its smallest one, so a folder of
    every other frame (1, 3, 5, ...) is whole."""
    parts = [_NUMBERED.match(n) for n in names]
    if len(names) < 2 or not all(parts) or len({(p[1], p[3]) for p in parts}) != 1:
        return None
    numbers = [int(p[2]) for p in parts]
    step = min(b - a for a, b in itertools.pairwise(numbers))
    for previous, number, part in zip(numbers, numbers[1:], parts, strict=False):
        if step > 0 and number != previous + step:
            return f"{part[1]}{previous + step:0{len(part[2])}d}{part[3]}"
    return None


def folder_fingerprint(folder: str, settings: str, fps: float | None) -> str:
    """``N:SIZE:HASH:SETTINGS,fps=F``: the number of frames, their total size, and a BLAKE2b hash of the
    frame names with their sizes and the bytes of the first and last frame. Like a video file's fingerprint it
    is cheap (two frames read); a frame replaced by one of the same size, not first or last, goes unnoticed."""
    names = frame_names(folder)
    digest = hashlib.blake2b(digest_size=16)
    total = 0
    for name in names:
        size = os.path.getsize(os.path.join(folder, name))
        total += size
        digest.update(f"{name}\0{size}\0".encode())
    for name in dict.fromkeys(names[:1] + names[-1:]):  # first and last, once each
        with open(os.path.join(folder, name), "rb") as f:
            digest.update(f.read())
    return f"{len(names)}:{total}:{digest.hexdigest()}:{settings},fps={fps or 'none'}"


class FolderReader:
    """A frame folder opened as a video: ``fps`` as given, ``frames()`` decodes the frames in order.

    >>> with FolderReader("frames_512x512/S000001_P0000_T00", fps=30) as video:   # doctest: +SKIP
    ...     for frame in video.frames(stride=2):
    ...         print(frame.time, frame.rgb.shape)
    """

    def __init__(self, path: str, fps: float | None):
        self.path = path
        if not fps:
            raise DecodeError("a folder of frames has no frame rate of its own: give it with --fps")
        self.fps = float(fps)
        try:
            self.names = frame_names(path)
        except OSError as e:
            raise DecodeError(f"cannot list the frame folder: {e.strerror or e}") from e
        if not self.names:
            raise DecodeError(f"the folder holds no frames ({', '.join('*' + s for s in FRAME_SUFFIXES)})")
        missing = gap(self.names)
        if missing:
            raise DecodeError(f"frame {missing} is missing: the numbered frames skip it")

    def frames(self, stride: int = 1, max_frames: int | None = None) -> Iterator[Frame]:
        """Every ``stride``-th frame (from the first), at most ``max_frames``; DecodeError names a frame that
        cannot be read or decoded, or whose size differs from the first frame's."""
        import cv2  # OpenCV: only for frame folders (see the module's docstring)

        size = None
        picked = range(0, len(self.names), stride)
        for index in picked if max_frames is None else picked[:max_frames]:
            name = self.names[index]
            try:
                raw = np.fromfile(os.path.join(self.path, name), dtype=np.uint8)
            except OSError as e:
                raise DecodeError(f"frame {name}: cannot read it: {e.strerror or e}") from e
            bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
            if bgr is None:
                raise DecodeError(f"frame {name}: not an image OpenCV can decode (empty, truncated or corrupt)")
            if size is None:
                size = bgr.shape[:2]
            elif bgr.shape[:2] != size:
                raise DecodeError(
                    f"frame {name} is {bgr.shape[1]}x{bgr.shape[0]}, the first frame {size[1]}x{size[0]}: "
                    "a video's frames must all have one size"
                )
            yield Frame(index / self.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        return None  # nothing held open between frames

    def __enter__(self) -> FolderReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
