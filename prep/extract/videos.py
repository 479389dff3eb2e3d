"""Finding a dataset's video files, naming them, and fingerprinting their content."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .. import schemas
from ..errors import InputError
from .frame_folder import FRAME_SUFFIXES, find_frame_folders

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".avi", ".mkv")
FINGERPRINT_SPAN = 64 * 1024  # bytes hashed at each end of a file
MAX_LISTED = 20


@dataclass(frozen=True)
class VideoFile:
    id: str  # its path under the videos folder, '/'-separated, without the suffix
    path: str  # absolute


def find_videos(root: str | Path, glob: str | None = None) -> list[VideoFile]:
    """The videos under ``root`` (recursively), sorted by id; ``root`` may also be a single video file or frame
    folder.

    By default every file whose suffix is one of VIDEO_SUFFIXES (any case) and every folder that directly holds
    image frames (``frame_folder``: its id is its path); ``glob`` (e.g. ``"**/*.mts"``) replaces both. Hidden
    files and folders (a name starting with '.') are skipped; a link to a missing file is not (its extraction
    fails, saying so). Raises InputError when nothing is found, when two files map to one id (``a.mp4`` and
    ``a.webm``) or a path makes an invalid id.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    if root.is_file():
        return [VideoFile(root.stem, str(root.absolute()))]
    frame_folders = [] if glob else find_frame_folders(root)
    if frame_folders == [root]:
        return [VideoFile(root.absolute().name, str(root.absolute()))]
    candidates = root.glob(glob) if glob else (p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    by_id: dict[str, list[Path]] = {}
    for path in candidates:
        relative = path.relative_to(root)
        dangling = path.is_symlink() and not path.exists()  # kept: extracting it records the missing target
        if any(part.startswith(".") for part in relative.parts) or not (path.is_file() or dangling):
            continue
        by_id.setdefault(relative.with_suffix("").as_posix(), []).append(path)
    for folder in frame_folders:
        by_id.setdefault(folder.relative_to(root).as_posix(), []).append(folder)

    problems = []
    for video_id, paths in sorted(by_id.items()):
        if len(paths) > 1:
            names = ", ".join(str(p) for p in sorted(paths))
            problems.append(f"{video_id!r} would be the id of {len(paths)} files: {names}; keep one of them")
        for message in schemas.definition_errors("id", video_id):
            problems.append(f"{paths[0]}: cannot be a video id: {message}")
    if problems:
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise InputError(
            f"{len(problems)} problem(s) with the videos under {root}:\n  " + "\n  ".join(problems[:MAX_LISTED]) + more
        )
    if not by_id:
        looked_for = glob or " ".join(f"*{s}" for s in VIDEO_SUFFIXES) + ", folders of " + "|".join(FRAME_SUFFIXES)
        raise InputError(f"no videos under {root} (looked for {looked_for}, recursively); see --glob")
    return [VideoFile(video_id, str(paths[0].absolute())) for video_id, paths in sorted(by_id.items())]


def fingerprint(path: str, settings: str = "") -> str:
    """``SIZE:HASH:SETTINGS``: the file's size, a BLAKE2b hash of its first and last 64 KiB (the whole file when
    smaller), and the extraction settings, which change the result as much as the content does.

    Reading only the ends keeps a rerun over thousands of videos quick. Any re-encode, trim or truncation
    changes the size or the container's index (at the start or end of the file); an edit that keeps the size
    and touches only the middle goes unnoticed: use --force after one.
    """
    size = os.path.getsize(path)
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        digest.update(f.read(FINGERPRINT_SPAN))
        if size > FINGERPRINT_SPAN:
            f.seek(max(size - FINGERPRINT_SPAN, FINGERPRINT_SPAN))
            digest.update(f.read())
    return f"{size}:{digest.hexdigest()}:{settings}"


def fingerprint_settings(value: str) -> str | None:
    """The extraction settings a ``fingerprint`` recorded; None for another kind of fingerprint (``mmprep synth``'s)."""
    size, _, rest = value.partition(":")
    digest, _, settings = rest.partition(":")
    return settings if size.isdigit() and digest and settings else None
