"""Scenario C: each video that has a description, translated with another one's (a *stranger's* description).

A model that reads the content of its description does better with its own (A) than with a stranger's (C); a
model that only reacts to there being some text does as well with either. And a stranger's description says
nothing true about this video, so C below B (no description) means the model was misled by what it read. This
is the incongruent-input test of the multimodal translation literature.

Who gets whose description is a fixed derangement of the evaluated with-text videos, from a seed: one cycle
through a seeded random order, so no video keeps its own and every description is used once.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.dataset import PoseDataset, collate_text


def derangement(n: int, seed: int) -> np.ndarray:
    """``donor[i]``: whose description video ``i`` gets, never its own (``n`` at least 2); one cycle through a
    random order from ``seed``."""
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 videos, not {n}")
    order = np.random.default_rng(seed).permutation(n)
    donor = np.empty(n, dtype=np.int64)
    donor[order] = np.roll(order, -1)
    return donor


class StrangerTexts:
    """The stranger's description of each with-text video among ``indices`` of ``data`` (None where fewer than two
    have one: there is no stranger to take a description from)."""

    def __init__(self, data: PoseDataset, indices: range, seed: int):
        described = [i for i in indices if data.has_text[i]]
        self.donor_of: dict[str, str] = {}
        self._texts: dict[str, tuple] = {}
        if len(described) < 2:
            return
        for i, donor in zip(described, derangement(len(described), seed), strict=True):
            source = described[donor]
            self.donor_of[data.ids[i]] = data.ids[source]
            self._texts[data.ids[i]] = data.text_of(source)
        self.text_dim = data.text_dim

    def __bool__(self) -> bool:
        return bool(self.donor_of)

    def batch(self, batch: dict) -> tuple[list[int], dict] | None:
        """(the rows of ``batch`` that have a description, a batch of just those rows, each with its stranger's
        description instead of its own); None when the batch has no such row."""
        rows = [i for i, video in enumerate(batch["ids"]) if video in self._texts]
        if not rows:
            return None
        items = [{"text": self._texts[batch["ids"][i]][0], "text_tokens": self._texts[batch["ids"][i]][1],
                  "text_dim": self.text_dim} for i in rows]  # fmt: skip
        device = batch["keypoints"].device
        texts = {k: v.to(device) for k, v in collate_text(items).items()}
        picked = torch.tensor(rows, device=device)
        own = {
            k: v.index_select(0, picked) if isinstance(v, torch.Tensor) else [v[i] for i in rows]
            for k, v in batch.items()
            if k not in ("text_tokens", "text_token_mask")
        }
        return rows, {**own, **texts}
