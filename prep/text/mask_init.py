"""``mask_init``: the mean description feature of the training split, the initial value of the learnable
"text missing" embedding (docs/missing-modality.md §1). Only training videos count: a mean over dev or
test descriptions would leak evaluation data into the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import schemas
from ..errors import InputError, StoreError
from ..store import Store, now

EVALUATION_SPLITS = tuple(s for s in schemas.enum("common", "$defs", "split") if s != "train")  # dev, test
FEW_VIDEOS = 10  # below this many videos with text the mean is noisy: warn


@dataclass
class MaskInit:
    vector: np.ndarray  # float32 [D]
    info: dict  # schemas/store.schema.json#/$defs/mask_init
    warning: str | None = None


def compute_mask_init(store: Store, split: str = "train") -> MaskInit:
    """The mean pooled text feature over the ``split`` videos that have text, with statistics: the mean's norm,
    and the mean and spread of each feature's cosine similarity to it."""
    if split in EVALUATION_SPLITS:
        raise InputError(
            f"--split {split}: mask_init is computed from training videos only; a mean over {split} descriptions "
            "would leak evaluation data into the model"
        )
    features = store.text_features
    if features is None:
        raise StoreError(
            f"{store.url} has no text features; run `mmprep encode-text [DESCRIPTIONS] --store {store.url}`"
        )
    in_split = store.column("split") == split
    rows = np.flatnonzero(in_split & store.has_text)
    if rows.size == 0:
        if not in_split.any():
            raise StoreError(
                f"{store.url} has no {split} videos; assign splits with `mmprep manifest FILE --store {store.url}`"
            )
        raise StoreError(
            f"none of the {int(in_split.sum())} {split} videos in {store.url} has a description; give them one with "
            f"`mmprep encode-text DESCRIPTIONS --store {store.url}` (or a manifest's description column)"
        )
    selected = features[rows].astype(np.float64)
    mean = selected.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    lengths = np.linalg.norm(selected, axis=1) * norm
    cosine = np.divide(selected @ mean, lengths, out=np.zeros(len(rows)), where=lengths > 0)
    info = {
        "text_generation": store.text_generation,
        "split": split,
        "n_videos": int(rows.size),
        "model": store.text_provenance["model"],
        "created": now(),
        "stats": {"norm": norm, "cosine_mean": float(cosine.mean()), "cosine_std": float(cosine.std())},
    }
    warning = None
    if rows.size < FEW_VIDEOS:
        warning = f"only {rows.size} {split} video(s) with text: mask_init is the mean of very few features"
    return MaskInit(mean.astype(np.float32), info, warning)


def init_mask(store: Store, split: str = "train") -> MaskInit:
    """Compute ``mask_init`` and store it (the store must be open for writing)."""
    result = compute_mask_init(store, split)
    store.write_mask_init(result.vector, result.info)
    return result
