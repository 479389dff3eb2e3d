"""``mmprep info``: what a store holds, as a dict (shape: schemas/info.schema.json) and as text."""

from __future__ import annotations

import numpy as np

from .. import schemas
from .rows import statuses
from .store import Store

SPLITS = schemas.enum("common", "$defs", "split")  # train, dev, test


def summarize(store: Store) -> dict:
    split, status = store.column("split"), store.column("status")
    has_text = store.has_text
    ok = status == "ok"
    frames = store.column("n_frames")[ok]
    chunk = store.frame_chunk
    aligned = -(-frames // chunk) * chunk  # each video starts on a chunk boundary; the gap after it is not waste
    layout = store.layout
    meta = store.metadata

    def percentile(q):
        return float(np.percentile(frames, q)) if frames.size else None

    failures = [
        {"id": store.ids[i], "status": str(status[i]), "error": str(store.column("error")[i]),
         "source": str(store.column("source")[i])}
        for i in np.flatnonzero((status == "failed") | (status == "no_person"))
    ]  # fmt: skip
    return {
        "store": store.url,
        "schema_version": meta["schema_version"],
        "toolkit_version": meta["toolkit_version"],
        "created": meta["created"],
        "updated": meta["updated"],
        "n_videos": store.n_rows,
        "splits": {**{s: int((split == s).sum()) for s in SPLITS}, "unassigned": int((split == "").sum())},
        "status": {s: int((status == s).sum()) for s in statuses()},
        "with_text": {"total": int(has_text.sum()), **{s: int((has_text & (split == s)).sum()) for s in SPLITS}},
        "frames": {
            "total": int(frames.sum()),
            "p5": percentile(5),
            "p50": percentile(50),
            "p95": percentile(95),
            "max": int(frames.max()) if frames.size else None,
            "unreferenced": max(
                store.stored_frames - int(aligned.sum()), 0
            ),  # ok videos never overlap (validate checks)
        },
        "layout": None
        if layout is None
        else {
            "name": layout.name,
            "n_points": layout.n_points,
            "components": {c.name: len(c.points) for c in layout.components},
        },
        "failures": failures,
        "text": store.text_provenance,
        "mask_init": store.mask_init_info,
    }


def render(info: dict) -> str:
    """The summary as lines of text for the terminal."""
    lines = [
        f"store      {info['store']}  (schema {info['schema_version']}, written by mmprep {info['toolkit_version']}, "
        f"updated {info['updated']})",
        f"videos     {info['n_videos']}: " + ", ".join(f"{k} {v}" for k, v in info["splits"].items()),
        "status     " + ", ".join(f"{k} {v}" for k, v in info["status"].items()),
        f"with text  {info['with_text']['total']}: " + ", ".join(f"{s} {info['with_text'][s]}" for s in SPLITS),
    ]
    f = info["frames"]
    if f["p50"] is None:
        lines.append("frames     none extracted yet")
    else:
        lines.append(
            f"frames     {f['total']} in ok videos; length p5 {f['p5']:.0f}, median {f['p50']:.0f}, "
            f"p95 {f['p95']:.0f}, max {f['max']}" + (f"; {f['unreferenced']} unreferenced" if f["unreferenced"] else "")
        )
    if info["layout"]:
        parts = ", ".join(f"{k} {v}" for k, v in info["layout"]["components"].items())
        lines.append(f"layout     {info['layout']['name']}: {info['layout']['n_points']} points ({parts})")
    text = info["text"]
    if text is None:
        lines.append("text       none; run `mmprep encode-text DESCRIPTIONS`")
    else:
        lines.append(
            f"text       {text['n_with_text']} descriptions, {text['dim']}-d, {text['pooling']} pooling of "
            f"{text['model']} (revision {text['revision'][:12]}), {text['dtype']} on {text['device']}, {text['created']}"
        )
    mask = info["mask_init"]
    if mask is None:
        lines.append("mask_init  none; run `mmprep init-mask`")
    else:
        stats = mask["stats"]
        state = "current" if mask["current"] else "STALE (text features changed since; rerun `mmprep init-mask`)"
        lines.append(
            f"mask_init  mean of {mask['n_videos']} {mask['split']} videos, norm {stats['norm']:.3f}, "
            f"cosine to it {stats['cosine_mean']:.3f} ± {stats['cosine_std']:.3f}; {state}"
        )
    if info["failures"]:
        lines.append(f"failures   {len(info['failures'])}:")
        lines.extend(f"  {x['id']}  [{x['status']}]  {x['error']}" for x in info["failures"])
    return "\n".join(lines)
