"""`mmprep inspect`: the quality report of a store's keypoints, as DIR/inspect.json (schemas/inspect.schema.json)
and DIR/index.html (``page``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import schemas
from .._version import __version__
from ..errors import StoreError
from ..store import Store, now
from ..store.info import SPLITS as STORE_SPLITS
from .flags import DEFAULTS, FLAGS, Thresholds, flags, worst_first
from .metrics import measure
from .skeleton import skeleton

SCHEMA = "inspect"
UNASSIGNED = "unassigned"  # the split of rows no manifest gave one, as `mmprep info` calls it
NOT_INSPECTED = ("pending", "failed", "no_person")
SPLITS = (*STORE_SPLITS, UNASSIGNED)
COUNTS = ("n_frames", "fps", "width", "height")  # the table's columns each record repeats


def split_names(store: Store) -> np.ndarray:
    """Each row's split, with UNASSIGNED for none."""
    split = store.column("split").astype(object)
    split[split == ""] = UNASSIGNED
    return split


def inspect_store(store: Store, splits: Sequence[str] = (), thresholds: Thresholds = DEFAULTS,
                  progress: bool = False) -> dict:  # fmt: skip
    """The report (schemas/inspect.schema.json) of the ok videos of ``splits`` (all when empty)."""
    if store.layout is None:
        raise StoreError(f"{store.url} holds no poses yet; run `mmprep extract VIDEOS --store {store.url}`")
    split, status = split_names(store), store.column("status")
    chosen = np.isin(split, list(splits)) if splits else np.ones(store.n_rows, dtype=bool)
    columns = {name: store.column(name) for name in ("id", *COUNTS)}
    videos = [
        {"id": columns["id"][i], "split": split[i], **{k: columns[k][i].item() for k in COUNTS}}
        for i in np.flatnonzero(chosen & (status == "ok"))
    ]
    figures = measure(store, videos, thresholds.max_hand_speed)
    bar = tqdm(figures, total=len(videos), unit="video", desc="inspect", disable=not progress or None)
    records = [{**video, **f, "flags": flags(f, thresholds)} for video, f in zip(videos, bar, strict=True)]
    counts = {flag: sum(flag in r["flags"] for r in records) for flag in FLAGS}
    return {
        "store": store.url,
        "created": now(),
        "toolkit_version": __version__,
        "layout": store.layout.name,
        "min_confidence": skeleton(store.layout).min_confidence,
        "splits": [s for s in SPLITS if s in (splits or set(split))],
        "thresholds": thresholds.to_json(),
        "n_videos": len(records),
        "not_inspected": {s: int((chosen & (status == s)).sum()) for s in NOT_INSPECTED},
        "flagged": {"total": sum(bool(r["flags"]) for r in records), **counts},
        "videos": records,
    }


def write_inspection(store: Store, out: Path, splits: Sequence[str] = (), thresholds: Thresholds = DEFAULTS,
                     worst: int = 12, progress: bool = False) -> dict:  # fmt: skip
    """Inspect the store and write ``out``/inspect.json and ``out``/index.html (with strips of the ``worst``
    videos); returns the report."""
    from .page import write_page  # matplotlib: only when a page is written

    report = inspect_store(store, splits, thresholds, progress)
    problems = schemas.errors(SCHEMA, report)
    if problems:  # a bug, not a user's error: say where
        raise AssertionError(f"inspect.json does not match schemas/{SCHEMA}.schema.json: {problems[:3]}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "inspect.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_page(store, report, worst_first(report["videos"])[:worst], thresholds, out / "index.html", progress)
    return report
