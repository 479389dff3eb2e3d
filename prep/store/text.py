"""The store's text: generations of description features (``text/g<N>``) and ``mask_init``, read and written.

``TextGenerations`` is part of ``Store`` (its base class), kept here because text has rules of its own: a
generation becomes current only when the ``text`` group's attributes name it, and ``mask_init`` counts only
once its attributes are written, after its data (see ``store.py``). It uses the store's ``_root``,
``n_rows``, ``row``, ``_require_writable`` and ``_touch``.
"""

from __future__ import annotations

import numpy as np
import zarr

from .frames import COMPRESSOR
from .rows import ROW_CHUNK


class TextGenerations:
    """The text features and the mask embedding's initial value of a ``Store``."""

    def _text_attrs(self) -> dict:
        if "text" not in self._root:
            return {}
        return self._root["text"].attrs.asdict()

    @property
    def text_generation(self) -> int | None:
        return self._text_attrs().get("generation")

    @property
    def text_provenance(self) -> dict | None:
        """How the current text features were made (model, revision, pooling, ...), or None."""
        return self._text_attrs().get("provenance")

    def _text_array(self, name: str) -> zarr.Array | None:
        generation = self.text_generation
        if generation is None:
            return None
        return self._root[f"text/g{generation}/{name}"]

    def _aligned(self, values: np.ndarray, fill) -> np.ndarray:
        """Pad an array written when the table had fewer rows to the current row count."""
        if len(values) >= self.n_rows:
            return values[: self.n_rows]
        pad = np.full((self.n_rows - len(values), *values.shape[1:]), fill, dtype=values.dtype)
        return np.concatenate([values, pad])

    @property
    def has_text(self) -> np.ndarray:
        """bool [N] aligned with ``ids``: the video has a non-empty description."""
        array = self._text_array("has_text")
        if array is None:
            return np.zeros(self.n_rows, dtype=bool)
        return self._aligned(array[:], False)

    @property
    def descriptions(self) -> list[str]:
        """The encoded descriptions aligned with ``ids`` ('' where none)."""
        array = self._text_array("description")
        if array is None:
            return [""] * self.n_rows
        return list(self._aligned(array[:], ""))

    @property
    def text_features(self) -> np.ndarray | None:
        """float32 [N, D] pooled description features; rows without text are zeros. None before encode-text."""
        array = self._text_array("features")
        return None if array is None else self._aligned(array[:], 0.0)

    def token_features(self, video_id: str) -> np.ndarray | None:
        """float32 [L, D] per-token features of the video's description (with --keep-tokens), else None."""
        offsets = self._text_array("token_offset")
        i = self.row(video_id)
        if offsets is None or i >= offsets.shape[0]:
            return None
        first, count = int(offsets[i]), int(self._text_array("token_count")[i])
        return self._text_array("token_features")[first : first + count] if count else None

    @property
    def mask_init_info(self) -> dict | None:
        """Provenance and statistics of ``mask_init`` with ``current`` (False when the features changed since)."""
        if "mask_init" not in self._root:
            return None
        attrs = self._root["mask_init"].attrs.asdict()
        if not attrs:
            return None
        return {**attrs, "current": attrs["text_generation"] == self.text_generation}

    @property
    def mask_init(self) -> np.ndarray | None:
        """float32 [D]: the mean train-split text feature, or None before `mmprep init-mask`."""
        return self._root["mask_init"][:] if self.mask_init_info else None

    # ------------------------------------------------------------------ writing
    def write_text(
        self,
        has_text: np.ndarray,
        descriptions: list[str],
        features: np.ndarray,
        provenance: dict,
        token_features: np.ndarray | None = None,
        token_count: np.ndarray | None = None,
    ) -> int:
        """Replace the text features in one step: write a new generation, then make it current.
        Arrays are aligned with the table's rows. Any existing ``mask_init`` becomes stale. Returns the
        new generation number."""
        self._require_writable()
        n = self.n_rows
        if len(has_text) != n or len(descriptions) != n or features.shape[0] != n:
            raise ValueError(f"text arrays must have one entry per row ({n})")
        previous = self.text_generation
        generation = (previous or 0) + 1
        group = self._root.require_group("text").create_group(f"g{generation}", overwrite=True)
        dim = features.shape[1]
        group.create_array("has_text", data=np.asarray(has_text, dtype=bool), chunks=(ROW_CHUNK,))
        group.create_array("description", shape=(n,), dtype=str, chunks=(ROW_CHUNK,))[:] = np.asarray(
            descriptions, dtype=object
        )
        group.create_array("features", data=features.astype(np.float32), chunks=(ROW_CHUNK, dim))
        if token_features is not None:
            count = np.asarray(token_count, dtype=np.int64)
            offset = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
            group.create_array("token_count", data=count, chunks=(ROW_CHUNK,))
            group.create_array("token_offset", data=offset, chunks=(ROW_CHUNK,))
            group.create_array(
                "token_features", data=token_features.astype(np.float32), chunks=(4096, dim), compressors=COMPRESSOR
            )
        # keep_tokens says what this generation holds, whatever the caller's provenance claims
        provenance = {**provenance, "keep_tokens": token_features is not None}
        self._root["text"].attrs.put({"generation": generation, "provenance": provenance})  # the commit point
        if previous is not None:
            del self._root[f"text/g{previous}"]
        self._touch()
        return generation

    def write_mask_init(self, vector: np.ndarray, info: dict) -> None:
        """Store ``mask_init`` with its provenance/statistics (``info``, see store.schema.json)."""
        self._require_writable()
        vector = np.asarray(vector, dtype=np.float32)
        # Overwriting starts from empty attributes, so the old value stops counting before its data changes.
        array = self._root.create_array("mask_init", shape=vector.shape, dtype="float32", overwrite=True)
        array[:] = vector
        array.attrs.put(info)  # the commit point
        self._touch()
