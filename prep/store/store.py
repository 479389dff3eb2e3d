"""The mmprep store: one zarr v3 hierarchy per dataset, the contract between every stage.

Layout (the attributes of each node are described by ``schemas/store.schema.json``)::

    /                 attrs: mmprep {schema_version, toolkit_version, created, updated, layout}
    videos/<column>   the per-video table, one 1-D array per column of schemas/video-row.schema.json
    pose/xyz          float32 [F, P, 3]  every frame of every ok video, each from a chunk boundary (uncompressed)
    pose/conf         float32 [F, P]     per-point confidence (pose: visibility; face, hands: 1 or 0)
    pose/time         float64 [F]        frame timestamps in seconds
    text/g<N>/...     has_text, description, features [N, D] (+ token features): generation N is current
    mask_init         float32 [D]        the mean train-split text feature

Writes follow three rules that keep the store valid after a crash or Ctrl-C at any point:

- one writer at a time, enforced by a lock file beside the store (``<store>.lock``);
- a row's extraction is committed by writing its ``status`` last, and a row that is about to change is first
  set back to ``pending``; frames are appended past the last committed frame, each video from the start of a
  fresh chunk of ``pose/xyz`` and ``pose/conf``, so a half-written append is never referenced, never shares a
  chunk with committed frames, and is overwritten by the next one (the gaps up to the chunk boundary are 0);
- text features are written as a new generation and become current when the ``text`` group's attributes
  name it; ``mask_init`` counts only once its attributes are written, after its data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import zarr

from .. import schemas
from .._version import __version__
from ..errors import InputError, StoreError
from ..layout import Layout
from .frames import FRAME_CHUNK, FrameReader, append_videos, create_pose_arrays
from .location import Location
from .lock import WriterLock
from .rows import EXTRACTION_FIELDS, MANIFEST_FIELDS, ROW_CHUNK, VideoResult, now, table_columns
from .text import TextGenerations

SCHEMA_VERSION = 1


class Store(TextGenerations):
    """A dataset's store. Reading is cheap; writing needs ``open_store(..., mode="a")``."""

    def __init__(self, location: Location, root: zarr.Group, lock: WriterLock | None):
        self.location = location
        self._root = root
        self._lock = lock
        meta = root.attrs.asdict().get("mmprep")
        if not isinstance(meta, dict) or "schema_version" not in meta:
            self.close()
            raise StoreError(f"{location} is a zarr store but not an mmprep store (no 'mmprep' root attributes)")
        if meta["schema_version"] > SCHEMA_VERSION:
            self.close()
            raise StoreError(
                f"{location} was written by mmprep {meta.get('toolkit_version', '?')} with store schema "
                f"{meta['schema_version']}; this mmprep ({__version__}) reads schema {SCHEMA_VERSION} or older. "
                "Upgrade mmprep (pip install -U mmprep) to use it."
            )
        self._meta = meta
        self._videos = root["videos"]
        self._readers: dict[str, FrameReader] | None = None  # made on first read_frames
        self._load_table()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return self.location.url

    @property
    def writable(self) -> bool:
        return self._lock is not None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<mmprep Store {self.url!r} rows={self.n_rows} {'writable' if self.writable else 'read-only'}>"

    # ------------------------------------------------------------------ table
    def _load_table(self) -> None:
        self.n_rows = int(self._videos.attrs["n_rows"])
        # One handle per column, kept: on object storage every fresh lookup costs round trips for its metadata.
        self._columns = {name: self._videos[name] for name in table_columns()}
        self._table = {name: column[: self.n_rows] for name, column in self._columns.items()}
        self._index = {vid: i for i, vid in enumerate(self._table["id"])}

    @property
    def metadata(self) -> dict:
        """The root's ``mmprep`` attributes: schema and toolkit version, created/updated, layout, language."""
        return dict(self._meta)

    @property
    def language(self) -> str | None:
        """The translations' language (ISO 639-1, e.g. ``zh``), when a manifest or recipe recorded it."""
        return self._meta.get("language")

    @property
    def ids(self) -> list[str]:
        """Video ids in the store's stable row order."""
        return list(self._table["id"])

    def column(self, name: str) -> np.ndarray:
        """One table column, aligned with ``ids`` (a copy)."""
        return self._table[name].copy()

    def __contains__(self, video_id: str) -> bool:
        """Whether the table has a row for ``video_id``."""
        return video_id in self._index

    def row(self, video_id: str) -> int:
        try:
            return self._index[video_id]
        except KeyError:
            raise KeyError(f"no video {video_id!r} in {self.url}") from None

    def video(self, video_id: str) -> dict:
        """The video's row: id, split, translation, signer, gloss, status, error, n_frames, fps, width, height,
        source, fingerprint, has_text. The extraction fields of a pending row are reported as empty."""
        i = self.row(video_id)
        pending = self._table["status"][i] == "pending"
        out = {}
        for name, (_, default) in table_columns().items():
            if name == "frame_offset":
                continue
            value = default if pending and name in EXTRACTION_FIELDS else self._table[name][i]
            out[name] = value.item() if isinstance(value, np.generic) else value
        out["has_text"] = bool(self.has_text[i])
        return out

    @property
    def synth(self) -> dict | None:
        """A synthetic store's answer key (written by `mmprep synth`, store.schema.json#/$defs/synth), else None."""
        return self._root.attrs.asdict().get("synth")

    # ------------------------------------------------------------------ pose
    @property
    def layout(self) -> Layout | None:
        data = self._meta.get("layout")
        return Layout.from_json(data) if data else None

    @property
    def point_names(self) -> list[str]:
        layout = self.layout
        if layout is None:
            raise StoreError(f"{self.url} holds no poses yet; run `mmprep extract VIDEOS --store {self.url}`")
        return layout.point_names

    def frame_range(self, video_id: str) -> tuple[int, int]:
        """(first, end) of the video's frames in the pose arrays; the video must be ok."""
        i = self.row(video_id)
        status = self._table["status"][i]
        if status != "ok":
            raise StoreError(f"video {video_id!r} has no poses (status {status}); see `mmprep info --store {self.url}`")
        first = int(self._table["frame_offset"][i])
        return first, first + int(self._table["n_frames"][i])

    def pose(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(xyz float32 [T, P, 3], conf float32 [T, P]); missing points are 0 with confidence 0."""
        first, end = self.frame_range(video_id)
        pose = self._root["pose"]
        return pose["xyz"][first:end], pose["conf"][first:end]

    def timestamps(self, video_id: str) -> np.ndarray:
        """Frame timestamps in seconds, float64 [T]."""
        first, end = self.frame_range(video_id)
        return self._root["pose/time"][first:end]

    def committed_frames(self) -> int:
        """One past the last frame any ok video points at: where the next append goes."""
        ok = self._table["status"] == "ok"
        if not ok.any():
            return 0
        return int((self._table["frame_offset"][ok] + self._table["n_frames"][ok]).max())

    def read_frames(
        self, spans: Sequence[tuple[int, int]], points: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(xyz float32 [F, P', 3], conf float32 [F, P']) of many frame ranges in one call, concatenated in
        the order given. ``spans`` are (first, end) pairs as ``frame_range`` returns; ``points`` are indices on
        the point axis (default all). For batches: every chunk involved is read and decoded once
        (see ``prep/store/frames.py``), far faster than one ``pose`` call per video."""
        if self.layout is None:
            raise StoreError(f"{self.url} holds no poses yet; run `mmprep extract VIDEOS --store {self.url}`")
        if self._readers is None:
            pose = self._root["pose"]
            self._readers = {name: FrameReader(pose[name], self.location) for name in ("xyz", "conf")}
        return self._readers["xyz"].read(spans, points), self._readers["conf"].read(spans, points)

    @property
    def stored_frames(self) -> int:
        """Length of the pose arrays' frame axis (committed frames, the gaps up to chunk boundaries, and any
        half-written append); 0 before any pose."""
        return self._root["pose/xyz"].shape[0] if self.layout else 0

    @property
    def frame_chunk(self) -> int:
        """Frames per chunk of the pose arrays: each video starts on a multiple of it."""
        return self._root["pose/xyz"].chunks[0] if self.layout else FRAME_CHUNK

    def _pose_arrays(self) -> dict[str, zarr.Array]:
        """The raw pose arrays, for ``validate`` only: the store hands out no zarr arrays."""
        return {name: self._root[f"pose/{name}"] for name in ("xyz", "conf", "time")}

    # ------------------------------------------------------------------ writing
    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"{self.url} is open read-only; open it with mode='a' to write")

    def _touch(self) -> None:
        self._meta["updated"] = now()
        self._meta["toolkit_version"] = __version__
        self._root.attrs["mmprep"] = self._meta

    def _write_columns(self, rows, names) -> None:
        """Write the in-memory values of ``rows`` for ``names``, whole chunks at a time."""
        rows = np.asarray(rows)
        if rows.size == 0:
            return
        lo = int(rows.min()) // ROW_CHUNK * ROW_CHUNK
        hi = min(-(-(int(rows.max()) + 1) // ROW_CHUNK) * ROW_CHUNK, self.n_rows)
        for name in names:
            self._columns[name][lo:hi] = self._table[name][lo:hi]

    def upsert_rows(self, rows: list[dict]) -> tuple[int, int]:
        """Add rows for new ids and update the given manifest fields (split, translation, signer, gloss,
        description, source) of existing ones. Returns (added, updated). New rows are committed together at
        the end."""
        self._require_writable()
        writable = (*MANIFEST_FIELDS, "source")
        updated_rows, new_rows = [], []
        for row in rows:
            i = self._index.get(row["id"])
            if i is None:
                new_rows.append(row)
                continue
            changed = False
            for name in writable:
                if name in row and self._table[name][i] != row[name]:
                    self._table[name][i] = row[name]
                    changed = True
            if changed:
                updated_rows.append(i)
        self._write_columns(updated_rows, writable)

        if new_rows:
            start, end = self.n_rows, self.n_rows + len(new_rows)
            for name, (dtype, default) in table_columns().items():
                values = np.array([r.get(name, default) for r in new_rows], dtype=object if dtype == "str" else dtype)
                self._table[name] = np.concatenate([self._table[name], values])
                if self._columns[name].shape[0] < end:
                    self._columns[name].resize((end,))
            self.n_rows = end
            self._write_columns(np.arange(start, end), table_columns())
            self._videos.attrs["n_rows"] = end  # the commit point of the new rows
            self._index.update({r["id"]: start + k for k, r in enumerate(new_rows)})
        if updated_rows or new_rows:
            self._touch()
        return len(new_rows), len(updated_rows)

    def set_synth(self, info: dict) -> None:
        """Record a synthetic store's answer key (see ``synth``)."""
        self._require_writable()
        self._root.attrs["synth"] = info
        self._touch()

    def set_language(self, language: str) -> None:
        """Record the translations' language (see ``common.schema.json#/$defs/language``)."""
        self._require_writable()
        problems = schemas.definition_errors("language", language)
        if problems:
            raise InputError(f"language: {problems[0]}; give an ISO 639-1 code such as zh, de or en")
        if self._meta.get("language") != language:
            self._meta["language"] = language
            self._touch()

    def set_layout(self, layout: Layout) -> None:
        """Fix the store's keypoint layout (on its first poses); a different one later is an error."""
        self._require_writable()
        current = self.layout
        if current is not None:
            if current != layout:
                raise StoreError(
                    f"{self.url} holds {current.n_points}-point poses ({current.name}); these are "
                    f"{layout.n_points}-point ({layout.name}). Use another store, or the same options as before "
                    "(e.g. --refine-face)."
                )
            return
        create_pose_arrays(self._root.require_group("pose"), layout.n_points)
        self._meta["layout"] = layout.to_json()
        self._readers = None
        self._touch()

    def commit_videos(self, results: list[VideoResult]) -> None:
        """Commit extraction results: each video becomes visible, whole, when its status is written."""
        self._require_writable()
        if not results:
            return
        rows = np.array([self.row(r.id) for r in results])
        if len(set(rows.tolist())) != len(rows):
            raise ValueError("commit_videos got the same video twice")
        ok = [r for r in results if r.status == "ok"]
        if ok and self.layout is None:
            raise StoreError("set the store's layout (set_layout) before committing poses")

        # 1. Rows that will change stop counting before anything they point at is touched.
        committed = rows[self._table["status"][rows] != "pending"]
        if committed.size:
            self._table["status"][committed] = "pending"
            self._write_columns(committed, ["status"])

        # 2. Frames go past the last committed frame, each video from the start of a chunk of the pose arrays:
        #    no write touches a chunk that committed frames are in, and a reader decodes only its video's chunks.
        offsets = {}
        if ok:
            offsets = append_videos(self._root["pose"], ok, self.committed_frames())
            self._readers = None  # they hold the arrays' old shapes

        # 3. The extraction fields, then 4. the status: the commit point of each row.
        for i, r in zip(rows, results, strict=True):
            for name in EXTRACTION_FIELDS:
                self._table[name][i] = offsets.get(r.id, -1) if name == "frame_offset" else getattr(r, name)
        self._write_columns(rows, EXTRACTION_FIELDS)
        self._table["status"][rows] = [r.status for r in results]
        self._write_columns(rows, ["status"])
        self._touch()
