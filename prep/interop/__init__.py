"""Poses in and out of a store: pose-format's ``.pose`` files, mmprep's HDF5 file, and (import only) Uni-Sign's
RTMPose pickles.

>>> with open_store("csl.zarr", mode="a") as store:               # doctest: +SKIP
...     report = import_poses(store, Path("poses/"))             # every *.pose under poses/
>>> export_poses(open_store("csl.zarr"), "h5", Path("csl.h5"))     # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..store import Store
from .base import ExportReport, ImportReport, Source, commit_incoming
from .hdf5 import H5File, export_h5
from .pose_format import PoseFiles, export_pose, is_pose_file
from .unisign import UniSignFiles

FORMATS = ("pose", "h5", "unisign")
EXPORT_FORMATS = ("pose", "h5")
H5_SUFFIXES = (".h5", ".hdf5")


def detect_format(path: Path) -> str:
    """``h5`` for a .h5/.hdf5 file, ``unisign`` for a .pkl file, ``pose`` for a .pose file or a folder."""
    if path.is_file() and path.suffix.lower() in H5_SUFFIXES:
        return "h5"
    if path.is_file() and path.suffix.lower() == ".pkl":
        return "unisign"
    if path.is_dir() or is_pose_file(path):
        return "pose"
    raise InputError(f"{path}: cannot tell its format from the name; add --format pose, h5 or unisign")


def open_source(
    path: Path, fmt: str | None = None, fps: float | None = None, frame_size: tuple[int, int] | None = None
) -> Source:
    """``path`` as an import source (a .pose file or a folder of them, an mmprep HDF5 file, a Uni-Sign .pkl or a
    folder of them, whose videos' ``fps`` and ``frame_size`` must be given); checked before anything is written."""
    fmt = fmt or detect_format(path)
    if fmt != "unisign" and (fps or frame_size):
        raise InputError("--fps and --frame-size are for Uni-Sign pose files (--format unisign), which lack them")
    if fmt == "unisign":
        return UniSignFiles(path, fps, frame_size)
    return PoseFiles(path) if fmt == "pose" else H5File(path)


def import_poses(
    store: Store,
    path: Path,
    fmt: str | None = None,
    fps: float | None = None,
    frame_size: tuple[int, int] | None = None,
) -> ImportReport:
    """Import ``path`` (see ``open_source``) into ``store``."""
    with open_source(path, fmt, fps, frame_size) as source:
        return commit_incoming(store, source)


def export_poses(store: Store, fmt: str, out: Path, ids: list[str] | None = None) -> ExportReport:
    """Export the store's videos (all, or ``ids``): one ``.pose`` file per ok video under the folder ``out``,
    or one HDF5 file ``out``."""
    if fmt == "pose":
        if out.is_file():
            raise InputError(f"{out} is a file; --format pose writes one file per video into a folder")
        return export_pose(store, out, ids)
    if out.is_dir():
        raise InputError(f"{out} is a folder; --format h5 writes one file, e.g. --out {out / 'poses.h5'}")
    return export_h5(store, out, ids)


__all__ = ["EXPORT_FORMATS", "FORMATS", "ExportReport", "ImportReport", "commit_incoming", "detect_format", "export_poses", "import_poses",
           "open_source"]  # fmt: skip
