"""mmprep's HDF5 file: a store's table and poses in one portable file (h5py), and back.

Layout (format ``mmprep-poses``, version 1)::

    /                   attrs: format, format_version, toolkit_version, created, source_store,
                        layout (the keypoint layout as JSON, as in the store's metadata; "" without poses)
    /videos/<column>    one 1-D dataset per column of the store's table (schemas/video-row.schema.json), the
                        exported rows in store order: strings UTF-8, integers int64, numbers float64;
                        frame_offset is the row's first frame in /pose (-1 without poses)
    /pose/xyz           float32 [F, P, 3]  the frames of the ok rows, concatenated in row order
    /pose/conf          float32 [F, P]
    /pose/time          float64 [F]        frame timestamps in seconds
    /pose/point_names   UTF-8 [P]          "POSE.NOSE", ..., "RIGHT_HAND.PINKY_TIP"

Every value is stored as the store holds it, so export then import gives the same store contents.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from .. import schemas
from .._version import __version__
from ..errors import InputError
from ..layout import Layout
from ..store import MANIFEST_FIELDS, Store, VideoResult, now, table_columns
from .base import ExportReport, Incoming, Loaded, Source, select_ids

FORMAT = "mmprep-poses"
FORMAT_VERSION = 1
FRAME_CHUNK = 64
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}  # readable by every HDF5 tool


def export_h5(store: Store, out: Path, ids: list[str] | None = None) -> ExportReport:
    """Write the table rows (all, or ``ids``) and the poses of the ok ones to ``out``, replacing it whole
    (written to a temporary name, then renamed)."""
    rows = [store.video(i) for i in select_ids(store, ids)]
    ok = [r for r in rows if r["status"] == "ok"]
    counts = np.array([r["n_frames"] if r["status"] == "ok" else 0 for r in rows], dtype=np.int64)
    offsets = np.where(counts > 0, np.cumsum(counts) - counts, -1)
    layout = store.layout
    report = ExportReport(written=len(ok), frames=int(counts.sum()))
    for r in rows:
        if r["status"] != "ok":
            report.skipped[r["status"]] = report.skipped.get(r["status"], 0) + 1

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with h5py.File(partial, "w") as f:
        f.attrs.update(
            format=FORMAT, format_version=FORMAT_VERSION, toolkit_version=__version__, created=now(),
            source_store=store.url, layout=json.dumps(layout.to_json()) if layout else "",
        )  # fmt: skip
        videos = f.create_group("videos")
        for name, (dtype, _) in table_columns().items():
            if name == "frame_offset":
                values = offsets
            else:
                values = np.array([r[name] for r in rows], dtype=object if dtype == "str" else dtype)
            videos.create_dataset(name, data=values, dtype=h5py.string_dtype() if dtype == "str" else dtype)
        if layout is not None:
            _write_poses(store, f.create_group("pose"), layout, ok, report.frames)
    os.replace(partial, out)
    return report


def _write_poses(store: Store, group: h5py.Group, layout: Layout, ok: list[dict], total: int) -> None:
    n = layout.n_points
    xyz = group.create_dataset("xyz", (total, n, 3), "float32", chunks=(FRAME_CHUNK, n, 3), maxshape=(None, n, 3),
                               **COMPRESSION)  # fmt: skip
    conf = group.create_dataset("conf", (total, n), "float32", chunks=(FRAME_CHUNK, n), maxshape=(None, n),
                                **COMPRESSION)  # fmt: skip
    time = group.create_dataset("time", (total,), "float64", chunks=(FRAME_CHUNK * 16,), maxshape=(None,))
    group.create_dataset("point_names", data=np.array(layout.point_names, dtype=object), dtype=h5py.string_dtype())
    start = 0
    for row in tqdm(ok, unit="video", desc="export", disable=None):
        end = start + row["n_frames"]
        xyz[start:end], conf[start:end] = store.pose(row["id"])
        time[start:end] = store.timestamps(row["id"])
        start = end


class H5File(Source):
    """The rows of an mmprep HDF5 file, as an import source. Rows that break schemas/video-row.schema.json
    or point outside /pose are rejected (listed with their row number); the others are imported."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.file = h5py.File(path, "r")
        except OSError as e:
            raise InputError(f"{path}: not an HDF5 file ({e})") from None
        try:
            self._read_table()
        except BaseException:
            self.file.close()
            raise

    def _read_table(self) -> None:
        f, path = self.file, self.path
        if f.attrs.get("format") != FORMAT:
            raise InputError(f"{path}: not an mmprep HDF5 file (no format={FORMAT!r} attribute); see docs/interop.md")
        if int(f.attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise InputError(
                f"{path} is format version {f.attrs['format_version']} (written by mmprep "
                f"{f.attrs.get('toolkit_version', '?')}); this mmprep reads up to {FORMAT_VERSION}: upgrade mmprep"
            )
        missing = [name for name in table_columns() if f"videos/{name}" not in f]
        if missing:
            raise InputError(f"{path}: /videos lacks the column(s) {', '.join(missing)}")
        columns = {}
        for name, (dtype, _) in table_columns().items():
            data = f[f"videos/{name}"]
            columns[name] = data.asstr()[:] if dtype == "str" else data[:]
        layout_json = f.attrs.get("layout", "")
        self.layout = Layout.from_json(json.loads(layout_json)) if layout_json else None
        n_frames = f["pose/xyz"].shape[0] if "pose/xyz" in f else 0
        if self.layout is not None and f["pose/xyz"].shape[1] != self.layout.n_points:
            raise InputError(
                f"{path}: /pose/xyz has {f['pose/xyz'].shape[1]} points, its layout {self.layout.n_points}"
            )

        self.rows, self.rejected = [], []
        seen = set()
        for i in range(len(columns["id"])):
            row = {name: values[i].item() if isinstance(values[i], np.generic) else values[i]
                   for name, values in columns.items()}  # fmt: skip
            problems = schemas.errors("video-row", row)
            if row["id"] in seen:
                problems.append(f"id: duplicate id {row['id']!r}")
            if row["status"] == "ok" and (self.layout is None or row["frame_offset"] + row["n_frames"] > n_frames):
                problems.append(
                    f"frame_offset, n_frames: frames {row['frame_offset']}+{row['n_frames']} are not in /pose"
                )
            if problems:
                self.rejected.append((f"{path}: row {i} ({row['id']!r})", "; ".join(problems)))
            else:
                seen.add(row["id"])
                self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Incoming]:
        for row in self.rows:
            # Empty manifest fields leave the store's values alone, rather than erasing them.
            fields = {"id": row["id"], **{k: row[k] for k in MANIFEST_FIELDS if row[k] != ""}}
            yield Incoming(fields, row["fingerprint"], row["source"], lambda row=row: self._load(row))

    def _load(self, row: dict) -> Loaded:
        if row["status"] == "pending":
            return Loaded(None)
        video = {k: row[k] for k in ("error", "n_frames", "fps", "width", "height", "source", "fingerprint")}
        if row["status"] != "ok":
            return Loaded(VideoResult(row["id"], row["status"], **video))
        frames = slice(row["frame_offset"], row["frame_offset"] + row["n_frames"])
        pose = self.file["pose"]
        result = VideoResult(row["id"], "ok", xyz=pose["xyz"][frames], conf=pose["conf"][frames],
                             time=pose["time"][frames], **video)  # fmt: skip
        return Loaded(result, self.layout)

    def __exit__(self, *exc) -> None:
        self.file.close()
