"""What extraction opens: a video file or a folder of frames (``frame_folder``), behind one interface."""

from __future__ import annotations

import os

from .decode import VideoReader
from .frame_folder import FolderReader, folder_fingerprint
from .videos import fingerprint


def open_video(path: str, fps: float | None) -> FolderReader | VideoReader:
    """A reader for ``path``: a frame folder timed by ``fps``, or a video file with its own frame rate."""
    return FolderReader(path, fps) if os.path.isdir(path) else VideoReader(path)


def source_fingerprint(path: str, settings: str, fps: float | None) -> str:
    """The fingerprint of a video file, or of a frame folder (which includes ``fps``). OSError if unreadable."""
    return folder_fingerprint(path, settings, fps) if os.path.isdir(path) else fingerprint(path, settings)
