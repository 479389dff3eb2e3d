"""``mmprep validate``: check a store against the schemas and its own invariants."""

from __future__ import annotations

import itertools

import numpy as np

from .. import schemas
from .rows import table_columns
from .store import Store

BLOCK_FRAMES = 8192  # frames read at a time when checking pose values
MAX_PER_KIND = 20  # problems of one kind listed before the rest are counted


class _Problems(list):
    """Problems, with long runs of one kind cut to a count."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= MAX_PER_KIND:
            self.append(message)

    def finish(self) -> list[str]:
        for kind, count in self.counts.items():
            if count > MAX_PER_KIND:
                self.append(f"... and {count - MAX_PER_KIND} more {kind} problems")
        return list(self)


def validate(store: Store, check_values: bool = True) -> list[str]:
    """Every problem found, as human-readable lines; empty when the store is valid.

    ``check_values`` also reads every stored frame (finite coordinates, confidences in [0, 1]).
    """
    problems = _Problems()
    root = store._root
    document = {"/": root.attrs.asdict(), "videos": root["videos"].attrs.asdict()}
    if "text" in root and root["text"].attrs.asdict():
        document["text"] = root["text"].attrs.asdict()
    if "mask_init" in root and root["mask_init"].attrs.asdict():
        document["mask_init"] = root["mask_init"].attrs.asdict()
    for message in schemas.errors("store", document):
        problems.add("metadata", f"metadata: {message}")

    _check_table(store, problems)
    _check_pose(store, problems, check_values)
    _check_text(store, problems)
    return problems.finish()


def _check_table(store: Store, problems: _Problems) -> None:
    videos = store._root["videos"]
    for name in table_columns():
        if name not in videos:
            problems.add("table", f"videos/{name}: column missing")
            continue
        length = videos[name].shape[0]
        if length < store.n_rows:
            problems.add("table", f"videos/{name}: {length} entries for {store.n_rows} rows")
    columns = {name: store.column(name) for name in table_columns()}
    seen: dict[str, int] = {}
    for i, video_id in enumerate(columns["id"]):
        if video_id in seen:
            problems.add("table", f"row {i}: duplicate id {video_id!r} (also row {seen[video_id]})")
        seen.setdefault(video_id, i)
        row = {name: _plain(values[i]) for name, values in columns.items()}
        for message in schemas.errors("video-row", row):
            problems.add("row", f"row {i} ({video_id}): {message}")


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _check_pose(store: Store, problems: _Problems, check_values: bool) -> None:
    status = store.column("status")
    ok = np.flatnonzero(status == "ok")
    layout = store.layout
    if layout is None:
        if ok.size:
            problems.add("pose", f"{ok.size} ok videos but no layout in the root metadata")
        return
    arrays = store._pose_arrays()
    n_frames = {name: array.shape[0] for name, array in arrays.items()}
    if arrays["xyz"].shape[1:] != (layout.n_points, 3) or arrays["conf"].shape[1:] != (layout.n_points,):
        problems.add(
            "pose",
            f"pose arrays hold {arrays['xyz'].shape[1]} points, the layout {layout.n_points}",
        )
    offsets, counts = store.column("frame_offset")[ok], store.column("n_frames")[ok]
    ends = offsets + counts
    shortest = min(n_frames.values())
    for i in ok[ends > shortest]:
        problems.add("pose", f"row {i} ({store.ids[i]}): frames end past the pose arrays ({shortest} frames)")
    order = np.argsort(offsets, kind="stable")
    for a, b in itertools.pairwise(order):
        if ends[a] > offsets[b]:
            problems.add("pose", f"rows {ok[a]} and {ok[b]}: frame ranges overlap")

    time = arrays["time"][: min(shortest, int(ends.max(initial=0)))]
    for i, first, end in zip(ok, offsets, ends, strict=True):
        if end <= len(time) and np.any(np.diff(time[first:end]) < 0):
            problems.add("pose", f"row {i} ({store.ids[i]}): frame timestamps go backwards")
    if not check_values or not ok.size:
        return
    referenced = np.zeros(shortest, dtype=bool)
    for first, end in zip(offsets, ends, strict=True):
        referenced[first : min(end, shortest)] = True
    for start in range(0, shortest, BLOCK_FRAMES):
        mask = referenced[start : start + BLOCK_FRAMES]
        if not mask.any():
            continue
        xyz = arrays["xyz"][start : start + BLOCK_FRAMES][mask]
        conf = arrays["conf"][start : start + BLOCK_FRAMES][mask]
        if not np.isfinite(xyz).all():
            problems.add("values", f"pose/xyz frames {start}..{start + len(mask)}: non-finite coordinates")
        if not (np.isfinite(conf).all() and conf.min() >= 0 and conf.max() <= 1):
            problems.add("values", f"pose/conf frames {start}..{start + len(mask)}: confidences outside [0, 1]")


def _check_text(store: Store, problems: _Problems) -> None:
    generation = store.text_generation
    if generation is not None:
        group = f"text/g{generation}"
        if group not in store._root:
            problems.add("text", f"{group}: the current text generation is missing")
            return
        arrays = store._root[group]
        lengths = {name: arrays[name].shape[0] for name in ("has_text", "description", "features")}
        if len(set(lengths.values())) != 1 or max(lengths.values()) > store.n_rows:
            problems.add("text", f"{group}: arrays disagree in length or exceed the table ({lengths})")
            return
        has_text, features = arrays["has_text"][:], arrays["features"][:]
        descriptions = arrays["description"][:]
        dim = store.text_provenance.get("dim")
        if features.shape[1] != dim:
            problems.add("text", f"{group}/features: width {features.shape[1]}, provenance says {dim}")
        if not np.isfinite(features).all():
            problems.add("text", f"{group}/features: non-finite values")
        if np.any(features[~has_text] != 0):
            problems.add("text", f"{group}/features: rows without text are not zero")
        empty = [i for i in np.flatnonzero(has_text) if not str(descriptions[i]).strip()]
        for i in empty:
            problems.add("text", f"row {i} ({store.ids[i]}): has_text but an empty description")
    info = store.mask_init_info
    if info is not None:
        mask = store.mask_init
        if not np.isfinite(mask).all():
            problems.add("mask", "mask_init: non-finite values")
        features = store.text_features
        if features is not None and info["current"] and mask.shape != features.shape[1:]:
            problems.add("mask", f"mask_init: width {mask.shape[0]}, text features {features.shape[1]}")
