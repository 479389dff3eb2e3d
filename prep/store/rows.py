"""The per-video table's columns (from schemas/video-row.schema.json) and one video's extraction result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import numpy as np

from .. import schemas

ROW_CHUNK = 1024  # rows per chunk of a table column
MANIFEST_FIELDS = ("split", "translation", "signer", "gloss", "description")
EXTRACTION_FIELDS = ("error", "n_frames", "fps", "width", "height", "source", "fingerprint", "frame_offset")
COMMITTED = tuple(
    s for s in schemas.enum("video-row", "properties", "status") if s != "pending"
)  # ok, failed, no_person


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@cache
def table_columns() -> dict[str, tuple[str, object]]:
    """Column name -> (zarr dtype, default), read from schemas/video-row.schema.json."""
    storage = {"integer": "int64", "number": "float64", "boolean": "bool"}
    columns = {}
    for name, prop in schemas.load("video-row")["properties"].items():
        dtype = storage.get(prop.get("type"), "str")
        columns[name] = (dtype, prop.get("default", "" if dtype == "str" else 0))
    return columns


def statuses() -> tuple[str, ...]:
    return tuple(schemas.load("video-row")["properties"]["status"]["enum"])


@dataclass
class VideoResult:
    """One video's extraction outcome, as a worker hands it to the writer."""

    id: str
    status: str  # ok, failed or no_person
    error: str = ""
    n_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    source: str = ""
    fingerprint: str = ""
    xyz: np.ndarray | None = None  # float32 [T, P, 3]; ok only
    conf: np.ndarray | None = None  # float32 [T, P]
    time: np.ndarray | None = None  # float64 [T], seconds

    def __post_init__(self):
        if self.status not in COMMITTED:
            raise ValueError(f"status must be one of {COMMITTED}, not {self.status!r}")
        if self.status == "ok":
            n = self.n_frames
            if self.xyz is None or self.xyz.shape[0] != n or self.conf.shape[0] != n or self.time.shape[0] != n:
                raise ValueError(f"{self.id}: an ok result needs xyz, conf and time of {n} frames")
