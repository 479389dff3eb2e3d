"""The training dataset over a store: keypoints of a point subset, the pooled text feature, the translation.

>>> ds = prep.PoseDataset("csl.zarr", split="train", cache=True)          # doctest: +SKIP
>>> sampler = prep.StratifiedBatchSampler(ds.has_text, batch_size=32)    # doctest: +SKIP
>>> loader = DataLoader(ds, batch_sampler=sampler, collate_fn=prep.collate, num_workers=2)  # doctest: +SKIP

Reading is batched: ``__getitems__`` (which torch's DataLoader calls with a whole batch of indices) reads every
video of the batch with one ``Store.read_frames`` call. With ``cache=True`` the selected points of the whole
split are read once, at construction, into float16 arrays in memory, and no item ever touches the store again;
DataLoader workers started by fork share that memory. Without the cache, a remote store (``s3://...``) is opened
again in each forked worker, whose reads cannot go through the parent's connections.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..errors import StoreError
from ..layout import point_indices
from ..store import Store, open_store
from .augment import augment
from .normalize import normalize as normalize_video

CACHE_READ_FRAMES = 1 << 16  # frames read per Store.read_frames call while filling the cache
SHOULDERS = ("POSE.LEFT_SHOULDER", "POSE.RIGHT_SHOULDER")


class PoseDataset(torch.utils.data.Dataset):
    """The ``ok`` videos of one split of a store.

    Args:
        store_or_url: a ``Store`` or its URL.
        split: ``"train"``, ``"dev"``, ``"test"``, or None for every ok video.
        points: ``"upper"`` (125 points, see ``prep.layout.upper_points``), ``"all"`` or a list of point names.
        normalize: centre on the shoulders, scale by shoulder width, per video (see ``prep.data.normalize``).
        max_frames: longer videos are subsampled to this many frames: the middle frame of each of
            ``max_frames`` equal segments (None: every frame).
        cache: read the split's selected points into memory once (float16), so epochs never touch the store.
        text_tokens: also give each video with text its description's per-token features (``text_tokens``
            [L, D], stored by ``mmprep encode-text --keep-tokens``), read into memory once.
        augment: give every item a fresh random variation of its video (``prep.data.augment``; training only).
        tempo_warp: with ``augment``, the largest tempo change within a video (1: none).
        storage_options: fsspec options when ``store_or_url`` is a remote URL.

    ``ds[i]`` is a dict: ``id``, ``keypoints`` [T, P, 3], ``conf`` [T, P], ``length`` (T), ``text`` float32 [D]
    or None, ``has_text``, ``translation``, and ``text_dim`` (D, 0 before encode-text), which lets ``collate``
    build a batch where no video has text. ``keypoints`` and ``conf`` are numpy float32, or with the cache
    float16 read-only views into it (no copy per item); ``collate`` always returns float32 tensors.
    """

    def __init__(
        self,
        store_or_url: Store | str,
        split: str | None = "train",
        points: str | Sequence[str] = "upper",
        normalize: bool = True,
        max_frames: int | None = None,
        cache: bool = False,
        text_tokens: bool = False,
        augment: bool = False,
        tempo_warp: float = 1.0,
        storage_options: dict | None = None,
    ):
        store = (
            store_or_url
            if isinstance(store_or_url, Store)
            else open_store(store_or_url, storage_options=storage_options)
        )
        self.store = store
        self._pid = os.getpid()
        status = store.column("status")
        selected = status == "ok" if split is None else (status == "ok") & (store.column("split") == split)
        rows = np.flatnonzero(selected)
        if not rows.size:
            raise StoreError(
                f"{store.url} has no extracted (ok) videos in split {split!r}; see `mmprep info --store {store.url}`"
            )
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, not {max_frames}")
        names = store.point_names
        self.points, self._read_points = read_points(points, names)
        self.point_names = [names[i] for i in self.points]
        self.split, self.normalize, self.max_frames = split, normalize, max_frames
        self.augment, self.tempo_warp = augment, tempo_warp

        self.rows = rows
        self.ids = [str(v) for v in store.column("id")[rows]]
        self.translations = [str(v) for v in store.column("translation")[rows]]
        self.glosses = [str(v) for v in store.column("gloss")[rows]]  # space-separated; '' where the corpus has none
        self.n_frames = store.column("n_frames")[rows]
        self.lengths = self.n_frames if max_frames is None else np.minimum(self.n_frames, max_frames)
        self._first = store.column("frame_offset")[rows]
        self._size = np.stack([store.column("width")[rows], store.column("height")[rows]], axis=1)
        if normalize and (self._size < 1).any():
            bad = self.ids[int(np.flatnonzero((self._size < 1).any(axis=1))[0])]
            raise StoreError(f"video {bad!r} has no frame size, needed to normalise; run `mmprep validate`")

        features = store.text_features
        self.has_text = store.has_text[rows] if features is not None else np.zeros(len(rows), dtype=bool)
        self._text = features[rows] if features is not None else None
        self.text_dim = 0 if features is None else int(features.shape[1])
        # Per-token description features [L, D] of each video with text (None without): with text_tokens only.
        self.token_features = self._read_tokens(store) if text_tokens else None
        self._cache = self._fill_cache() if cache else None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        """A whole batch at once: one store read for all its videos (or none, from the cache)."""
        indices = [int(i) for i in indices]
        if self._cache is not None:
            xyz, conf, starts = self._cache
            videos = [(xyz[starts[i] : starts[i + 1]], conf[starts[i] : starts[i + 1]]) for i in indices]
        else:
            videos = self._read(indices)
        return [self._item(i, v_xyz, v_conf) for i, (v_xyz, v_conf) in zip(indices, videos, strict=True)]

    # ------------------------------------------------------------------ reading
    def _read(self, indices: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The selected (normalised) points of each video, float32, read with one store call."""
        if os.getpid() != self._pid and not self.store.location.is_local:
            # A forked DataLoader worker: the connections of a remote store (fsspec's, zarr's) cannot cross a
            # fork, so each worker opens the store again, once, read-only.
            self.store = open_store(self.store.url, storage_options=self.store.location.storage_options)
            self._pid = os.getpid()
        spans = [(int(self._first[i]), int(self._first[i] + self.n_frames[i])) for i in indices]
        xyz, conf = self.store.read_frames(spans, self._read_points)
        ends = np.cumsum(self.n_frames[indices])
        out = []
        for i, start, end in zip(indices, ends - self.n_frames[indices], ends, strict=True):
            width, height = self._size[i]
            out.append(prepare(xyz[start:end], conf[start:end], width, height, self.normalize))
        return out

    def _fill_cache(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every video's selected points as float16, concatenated in dataset order, with start offsets."""
        starts = np.concatenate([[0], np.cumsum(self.n_frames)])
        n_points = len(self.points)
        xyz = np.empty((starts[-1], n_points, 3), dtype=np.float16)
        conf = np.empty((starts[-1], n_points), dtype=np.float16)
        blocks, block, frames = [], [], 0
        for i in range(len(self)):
            block.append(i)
            frames += int(self.n_frames[i])
            if frames >= CACHE_READ_FRAMES or i == len(self) - 1:
                blocks.append(block)
                block, frames = [], 0
        with tqdm(total=int(starts[-1]), unit="frame", desc=f"caching {self.split or 'all'}", disable=None) as bar:
            for block in blocks:
                for i, (v_xyz, v_conf) in zip(block, self._read(block), strict=True):
                    xyz[starts[i] : starts[i + 1]] = v_xyz
                    conf[starts[i] : starts[i + 1]] = v_conf
                    bar.update(len(v_xyz))
        xyz.flags.writeable = conf.flags.writeable = False  # items are views into the cache
        return xyz, conf, starts

    def _read_tokens(self, store: Store) -> list[np.ndarray | None]:
        if store.text_provenance is None or not store.text_provenance.get("keep_tokens"):
            raise StoreError(
                f"{store.url} holds no per-token text features; encode the descriptions with them: "
                f"`mmprep encode-text --keep-tokens --store {store.url}`"
            )
        return [
            store.token_features(video) if has else None for video, has in zip(self.ids, self.has_text, strict=True)
        ]

    @property
    def cache_bytes(self) -> int:
        """Memory held by the cache (0 without one)."""
        return 0 if self._cache is None else self._cache[0].nbytes + self._cache[1].nbytes

    # ------------------------------------------------------------------ items
    def text_of(self, i: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One video's description features.

        Args:
            i: the video's index in the dataset.

        Returns:
            (pooled [D], per-token [L, D] where the dataset reads them, else None), or (None, None) when the
            video has no description.
        """
        if not self.has_text[i]:
            return None, None
        return self._text[i], None if self.token_features is None else self.token_features[i]

    def _item(self, i: int, xyz: np.ndarray, conf: np.ndarray) -> dict:
        text, tokens = self.text_of(i)
        if self.augment:
            xyz, conf = augment(xyz, conf, self.tempo_warp)
        return make_item(self.ids[i], xyz, conf, text, self.translations[i], self.text_dim, self.max_frames,
                         gloss=self.glosses[i], text_tokens=tokens)  # fmt: skip


def model_input(config: dict, text_tokens: bool) -> dict:
    """How a video becomes the input of a run's model, as ``PoseDataset`` keyword arguments: the points, their
    normalisation and the frame limit of ``config`` (the run's training options), and ``text_tokens``, whether
    the model reads the descriptions' per-token features (its ``ModelConfig.text_tokens``). The one place that
    says which options these are: training, evaluation and translation (an exported model's spec records what
    evaluation's dataset was built with) take them from here."""
    return {
        "points": config["points"],
        "normalize": config["normalize"],
        "max_frames": config["max_frames"],
        "text_tokens": text_tokens,
    }


# ---------------------------------------------------------------------- one video, as training sees it
# The steps from a video's stored points to a dataset item, shared with inference on new videos
# (prep/inference/), so that a translated video goes through exactly what the model was trained on.
def read_points(points: str | Sequence[str], point_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the ``points`` subset, the indices to read: the subset, then the two shoulders, which
    ``prepare`` normalises with and drops)."""
    subset = point_indices(points, point_names)
    return subset, np.concatenate([subset, point_indices(list(SHOULDERS), point_names)])


def prepare(
    xyz: np.ndarray, conf: np.ndarray, width: int, height: int, normalize: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One video's read points (as ``read_points`` orders them) -> its subset, normalised when ``normalize``."""
    if normalize:
        xyz = normalize_video(xyz, conf, width, height, (-2, -1))
    return xyz[:, :-2], conf[:, :-2]


def frame_selection(n: int, max_frames: int | None) -> np.ndarray | None:
    """Which frames to keep of an ``n``-frame video (None: all): the middle frame of each of ``max_frames``
    equal segments."""
    m = max_frames
    if m is None or n <= m:
        return None
    edges = np.linspace(0, n, m + 1)
    return np.minimum(np.floor(edges[:-1] + 0.5 * np.diff(edges)).astype(np.int64), n - 1)


def make_item(video_id: str, xyz: np.ndarray, conf: np.ndarray, text: np.ndarray | None, translation: str,
              text_dim: int, max_frames: int | None, gloss: str = "",
              text_tokens: np.ndarray | None = None) -> dict:  # fmt: skip
    """A dataset item (see ``PoseDataset``) from a prepared video; ``text`` None: the video has no text;
    ``text_tokens`` its description's per-token features, where the model reads them."""
    keep = frame_selection(len(xyz), max_frames)
    if keep is not None:
        xyz, conf = xyz[keep], conf[keep]
    return {
        "id": video_id,
        "keypoints": xyz,
        "conf": conf,
        "length": len(xyz),
        "text": text,
        "text_tokens": text_tokens,
        "has_text": text is not None,
        "translation": translation,
        "gloss": gloss,
        "text_dim": text_dim,
    }


def collate(batch: list[dict]) -> dict:
    """Items of ``PoseDataset`` into a batch, padded to its longest video.

    Returns tensors ``keypoints`` float32 [B, T, P, 3], ``conf`` [B, T, P], ``mask`` bool [B, T] (True on real
    frames), ``lengths`` int64 [B], ``text`` float32 [B, D] (zeros where a video has no text), ``has_text``
    bool [B]; and the lists ``ids``, ``translations`` and ``glosses``. Items with per-token text features add
    ``text_tokens`` float32 [B, L, D] and ``text_token_mask`` bool [B, L] (no steps for a video without text).
    """
    lengths = np.array([item["length"] for item in batch], dtype=np.int64)
    n_points = batch[0]["keypoints"].shape[1]
    # Padded in the items' own type (float16 from a cache), then converted at once: torch converts float16
    # at memory speed, numpy 1.26 some 20 times slower.
    dtype = np.result_type(*(item["keypoints"].dtype for item in batch))
    keypoints = np.zeros((len(batch), int(lengths.max()), n_points, 3), dtype=dtype)
    conf = np.zeros(keypoints.shape[:3], dtype=dtype)
    for b, item in enumerate(batch):
        keypoints[b, : item["length"]] = item["keypoints"]
        conf[b, : item["length"]] = item["conf"]
    return {
        **collate_text(batch),
        "keypoints": torch.from_numpy(keypoints).float(),
        "conf": torch.from_numpy(conf).float(),
        "mask": torch.arange(keypoints.shape[1])[None, :] < torch.from_numpy(lengths)[:, None],
        "lengths": torch.from_numpy(lengths),
        "ids": [item["id"] for item in batch],
        "translations": [item["translation"] for item in batch],
        "glosses": [item["gloss"] for item in batch],
    }


def collate_text(batch: list[dict]) -> dict:
    """The description part of ``collate``'s batch from items' ``text``, ``text_tokens`` (optional) and
    ``text_dim``: ``text``, ``has_text``, and ``text_tokens`` with ``text_token_mask`` where an item has them."""
    text = np.zeros((len(batch), batch[0]["text_dim"]), dtype=np.float32)
    for b, item in enumerate(batch):
        if item["text"] is not None:
            text[b] = item["text"]
    tokens = {}
    if any(item.get("text_tokens") is not None for item in batch):
        counts = [0 if item.get("text_tokens") is None else len(item["text_tokens"]) for item in batch]
        padded = np.zeros((len(batch), max(counts), batch[0]["text_dim"]), dtype=np.float32)
        for b, item in enumerate(batch):
            if counts[b]:
                padded[b, : counts[b]] = item["text_tokens"]
        tokens = {
            "text_tokens": torch.from_numpy(padded),
            "text_token_mask": torch.arange(max(counts))[None, :] < torch.tensor(counts)[:, None],
        }
    has_text = torch.tensor([item["text"] is not None for item in batch], dtype=torch.bool)
    return {**tokens, "text": torch.from_numpy(text), "has_text": has_text}
