"""Poses in and out of a store: pose-format's ``.pose`` files and mmprep's HDF5 file.

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
from .pose_format import PoseFiles, export_pose

FORMATS = ("pose", "h5")
H5_SUFFIXES = (".h5", ".hdf5")


def detect_format(path: Path) -> str:
    """``h5`` for a .h5/.hdf5 file, ``pose`` for a .pose file or a folder."""
    if path.is_file() and path.suffix.lower() in H5_SUFFIXES:
        return "h5"
    if path.is_dir() or path.suffix == ".pose":
        return "pose"
    raise InputError(f"{path}: cannot tell its format from the name; add --format pose or --format h5")


def open_source(path: Path, fmt: str | None = None) -> Source:
    """``path`` as an import source (a .pose file, a folder of them, or an mmprep HDF5 file); checked before
    anything is written."""
    return PoseFiles(path) if (fmt or detect_format(path)) == "pose" else H5File(path)


def import_poses(store: Store, path: Path, fmt: str | None = None) -> ImportReport:
    """Import ``path`` (see ``open_source``) into ``store``."""
    with open_source(path, fmt) as source:
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


__all__ = ["FORMATS", "ExportReport", "ImportReport", "commit_incoming", "detect_format", "export_poses", "import_poses",
           "open_source"]  # fmt: skip
