"""A batch sampler that puts the same number of with-text videos into every batch.

Each batch holds ``quota = round(batch_size * text_ratio)`` videos with text and ``batch_size - quota``
without. An epoch has as many batches as the group that needs the most batches to show each of its videos
once; the other group runs out first and is *recycled*: its videos come round again, in a fresh order, so
that every batch keeps its quota (with the default ratio, the split's own with-text share, both groups last
about equally long; with a higher ratio the with-text videos are shown several times per epoch). The last
batch is filled up the same way, so every batch has exactly ``batch_size`` videos; with ``drop_last`` the
epoch ends before the batch that would need that filling, and a few videos of the largest group are left out.

Everything is computed, never replayed: batch ``k`` of an epoch is a function of (seed, epoch, rank, k),
through random-access permutations (a keyed Feistel network, ``_permute``). So ``load_state_dict`` resumes at
any position in constant time, and every rank can compute its own batches without talking to the others.

With ``num_replicas`` ranks, each group's epoch order is dealt round-robin to the ranks, and a rank recycles
only its own share: ranks never hold the same video in an epoch and all have the same number of batches.

With ``lengths``, batches are made of videos of similar length: consecutive windows of ``bucket_batches``
batches are sorted by length within each group, cut into batches (the k-th shortest with-text videos go with
the k-th shortest without), and the window's batches are then shuffled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np
import torch

ROUNDS = 6
GROUPS = ("without text", "with text")
GROUP_ORDER, RANK_ORDER, WINDOW_ORDER = 1, 2, 3  # which permutation a key is for


@lru_cache(maxsize=4096)
def _keys(kind: int, seed: int, epoch: int, a: int, b: int = 0, c: int = 0) -> np.ndarray:
    """Round keys of one permutation, named by a fixed number of integers (SeedSequence treats [1, 2] and
    [1, 2, 0] alike, so the arity must not vary)."""
    return np.random.SeedSequence([kind, seed, epoch, a, b, c]).generate_state(ROUNDS, np.uint64)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fast, well-spread hash of uint64 values."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _permute(x: np.ndarray, n: int, keys: np.ndarray) -> np.ndarray:
    """Positions ``x`` (in [0, n)) through a random permutation of [0, n) named by ``keys``; each costs O(1).

    A balanced Feistel network is a bijection on [0, 4^h); values that land at or past ``n`` are sent through
    it again until they land inside ("cycle walking"), which keeps it a bijection on [0, n).
    """
    x = np.asarray(x, dtype=np.uint64)
    if n <= 1:
        return x.astype(np.int64)
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    shift = np.uint64(half)

    def encrypt(y: np.ndarray) -> np.ndarray:
        left, right = y >> shift, y & mask
        for key in keys:
            left, right = right, left ^ (_mix(right ^ key) & mask)
        return (left << shift) | right

    with np.errstate(over="ignore"):
        y = encrypt(x)
        outside = y >= n
        while outside.any():
            y[outside] = encrypt(y[outside])
            outside = y >= n
    return y.astype(np.int64)


class StratifiedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of dataset indices with an exact number of with-text videos each.

    Args:
        has_text: bool per dataset index (``PoseDataset.has_text``).
        batch_size: videos per batch.
        text_ratio: share of with-text videos per batch; default: their share of ``has_text``. The quota is
            ``round(batch_size * text_ratio)``, but at least 1 (and at most ``batch_size - 1``) when both
            groups exist, so that every video can appear.
        lengths: frames per video (``PoseDataset.lengths``) to batch videos of similar length.
        seed: with the epoch (``set_epoch``), determines everything.
        num_replicas, rank: for distributed training; every rank builds its own sampler.
        drop_last: end the epoch before the batch that would need recycled videos of the largest group.
        bucket_batches: batches per window sorted by length (with ``lengths``); also how many batches are
            computed at a time.

    >>> sampler = StratifiedBatchSampler(ds.has_text, batch_size=32, lengths=ds.lengths)  # doctest: +SKIP
    >>> sampler.set_epoch(3); batches = list(sampler)                                      # doctest: +SKIP
    """

    def __init__(
        self,
        has_text: Sequence[bool] | np.ndarray,
        batch_size: int,
        text_ratio: float | None = None,
        lengths: Sequence[int] | np.ndarray | None = None,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        drop_last: bool = False,
        bucket_batches: int = 64,
    ):
        has_text = np.asarray(has_text, dtype=bool)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, num_replicas={num_replicas}), not {rank}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed}")
        if bucket_batches < 1:
            raise ValueError(f"bucket_batches must be at least 1, not {bucket_batches}")
        if not has_text.size:
            raise ValueError("has_text is empty: no videos to sample")
        if lengths is not None and len(lengths) != len(has_text):
            raise ValueError(f"lengths has {len(lengths)} entries, has_text {len(has_text)}")
        share = float(has_text.mean())
        ratio = share if text_ratio is None else float(text_ratio)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"text_ratio must be in [0, 1], not {ratio}")
        self.groups = (np.flatnonzero(~has_text), np.flatnonzero(has_text))
        with_text = round(batch_size * ratio)
        if ratio > 0 and self.groups[1].size:
            with_text = max(with_text, 1)
        if ratio < 1 and self.groups[0].size:
            with_text = min(with_text, batch_size - 1)
        self.quota = (batch_size - with_text, with_text)
        for g, name in enumerate(GROUPS):
            if self.groups[g].size and not self.quota[g]:
                raise ValueError(
                    f"batch_size {batch_size} with text_ratio {ratio:g} leaves no place for the "
                    f"{self.groups[g].size} videos {name}; every video must appear in an epoch"
                )
            if self.quota[g] and self.groups[g].size < num_replicas:
                raise ValueError(
                    f"{self.groups[g].size} videos {name} cannot be shared out to {num_replicas} ranks without "
                    "two ranks holding the same video"
                )
        self.batch_size, self.text_ratio, self.seed = batch_size, ratio, seed
        self.num_replicas, self.rank, self.drop_last = num_replicas, rank, drop_last
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.bucket_batches = bucket_batches
        self.epoch, self._position = 0, 0
        # Videos of each group on this rank; rank 0 has the most, and decides the epoch's length.
        self._on_rank = tuple((g.size - rank + num_replicas - 1) // num_replicas for g in self.groups)
        most = max(-(-g.size // num_replicas) / q for g, q in zip(self.groups, self.quota, strict=True) if q)
        self.num_batches = int(most) if drop_last else int(np.ceil(most))
        self._window_cache: tuple[int, list[np.ndarray]] | None = None

    # ------------------------------------------------------------------ the plan
    def _stream(self, g: int, positions: np.ndarray) -> np.ndarray:
        """Dataset indices at ``positions`` of group ``g``'s stream on this rank: its share of the group in
        a fresh order for every pass ("cycle") through it."""
        count, rank, replicas = self._on_rank[g], self.rank, self.num_replicas
        cycle, within = np.divmod(positions, count)
        order = np.empty_like(within)
        for c in np.unique(cycle):
            here = cycle == c
            order[here] = _permute(within[here], count, _keys(RANK_ORDER, self.seed, self.epoch, g, rank, int(c)))
        group = self.groups[g]
        return group[_permute(rank + replicas * order, group.size, _keys(GROUP_ORDER, self.seed, self.epoch, g))]

    def _window(self, window: int) -> list[np.ndarray]:
        """The batches of one window of ``bucket_batches`` consecutive batches, computed together. With
        lengths, each group's videos of the window are sorted by length before they are cut into batches,
        and the batches are shuffled."""
        first = window * self.bucket_batches
        count = min(self.bucket_batches, self.num_batches - first)
        parts = []
        for g, q in enumerate(self.quota):
            if q:
                videos = self._stream(g, np.arange(first * q, (first + count) * q))
                if self.lengths is not None:
                    videos = videos[np.argsort(self.lengths[videos], kind="stable")]
                parts.append(videos.reshape(count, q))
        batches = np.concatenate(parts, axis=1)
        if self.lengths is not None:
            batches = batches[
                _permute(np.arange(count), count, _keys(WINDOW_ORDER, self.seed, self.epoch, self.rank, window))
            ]
        return list(batches)

    def batch(self, k: int) -> list[int]:
        """One batch of the current epoch on this rank, computed directly (with-text videos last).

        Args:
            k: the batch's number in the epoch, from 0 to ``len(sampler) - 1``.
        """
        if not 0 <= k < self.num_batches:
            raise IndexError(f"batch {k} of an epoch of {self.num_batches}")
        window = k // self.bucket_batches
        if self._window_cache is None or self._window_cache[0] != window:
            self._window_cache = (window, self._window(window))
        return self._window_cache[1][k % self.bucket_batches].tolist()

    # ------------------------------------------------------------------ the Sampler protocol
    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        start = self._position if self._position < self.num_batches else 0
        for k in range(start, self.num_batches):
            self._position = k + 1
            yield self.batch(k)

    def set_epoch(self, epoch: int) -> None:
        """Start an epoch; keeps the position when it is the current epoch, so ``load_state_dict`` then
        ``set_epoch`` resumes.

        Args:
            epoch: its number, from 0; each epoch's order differs from every other's.
        """
        if epoch < 0:
            raise ValueError(f"epoch must be non-negative, not {epoch}")
        if epoch != self.epoch:
            self.epoch, self._position, self._window_cache = epoch, 0, None

    def _config(self) -> dict:
        return {
            "seed": self.seed,
            "batch_size": self.batch_size,
            "quota": list(self.quota),
            "videos": [int(g.size) for g in self.groups],
            "num_replicas": self.num_replicas,
            "drop_last": self.drop_last,
            "bucket_batches": None if self.lengths is None else self.bucket_batches,
        }

    def state_dict(self) -> dict:
        """Epoch and position (batches handed out so far in it), with the settings they are valid for.

        Behind a DataLoader with workers the loader fetches ahead of the training loop: save the number of
        batches the loop has finished instead, ``{**sampler.state_dict(), "position": steps_done}``."""
        return {"epoch": self.epoch, "position": self._position, **self._config()}

    def load_state_dict(self, state: dict) -> None:
        """Continue where a state was taken: the next iteration yields exactly the batches an uninterrupted
        run would have given. O(1): nothing is replayed.

        Args:
            state: a ``state_dict()``, its ``position`` the batches already done; ValueError when it was taken
                with other settings or data.
        """
        expected = self._config()
        differ = {k: (state.get(k), v) for k, v in expected.items() if state.get(k) != v}
        if differ:
            details = "; ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in differ.items())
            raise ValueError(f"the sampler state was saved with other settings or data ({details})")
        self.epoch, self._position, self._window_cache = int(state["epoch"]), int(state["position"]), None
