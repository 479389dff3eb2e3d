"""Reading many videos' frames in one call, chunk by chunk.

A training loader reads thousands of small frame ranges per epoch. Through zarr's indexing each chunk costs
about 0.5-1 ms of Python overhead (zarr 3.1.5), ten times its lz4 decoding, and a 58-frame video spans two
or three chunks of each array. The pose arrays written by ``Store.set_layout`` have one simple encoding:
regular chunks along the frame axis only, little-endian bytes, then blosc. So this module fetches each chunk
a batch needs as one object (through fsspec, so remote stores work too), decodes it with numcodecs (the
library zarr's blosc codec calls), and copies out the frames and points asked for. A chunk shared by several
videos in a batch is fetched and decoded once. Arrays with any other encoding are read through zarr's slicing:
slower, same values (tests compare both paths).
"""

from __future__ import annotations

from collections.abc import Sequence

import numcodecs.blosc
import numpy as np
import zarr
from zarr.codecs import BloscCodec, BytesCodec

from .location import Location


def _plain_encoding(array: zarr.Array) -> bool:
    """True when every chunk is a whole-frames block of little-endian values compressed by blosc alone."""
    meta = array.metadata
    codecs = getattr(meta, "codecs", ())
    return (
        len(codecs) == 2
        and isinstance(codecs[0], BytesCodec)
        and codecs[0].endian is not None
        and codecs[0].endian.value == "little"
        and isinstance(codecs[1], BloscCodec)
        and tuple(array.chunks[1:]) == tuple(array.shape[1:])
    )


class FrameReader:
    """Reads frame ranges of one frames-first array (``pose/xyz`` or ``pose/conf``)."""

    def __init__(self, array: zarr.Array, location: Location):
        self.array = array
        self.location = location
        self.prefix = f"{location.path.rstrip('/')}/{array.path}/"
        self.frames_per_chunk = array.chunks[0]
        self.fast = _plain_encoding(array)

    def read(self, spans: Sequence[tuple[int, int]], points: np.ndarray | None = None) -> np.ndarray:
        """The frames ``first:end`` of every span, concatenated in order, restricted to ``points`` on axis 1."""
        if not self.fast:
            parts = [self.array[first:end] for first, end in spans]
            out = np.concatenate(parts) if parts else np.empty((0, *self.array.shape[1:]), self.array.dtype)
            return out if points is None else out[:, points]
        size = self.frames_per_chunk
        needed = sorted({c for first, end in spans for c in range(first // size, (end - 1) // size + 1)})
        chunks = self._chunks(needed, points)
        tail = next(iter(chunks.values())).shape[1:] if chunks else (len(points),)
        out = np.empty((sum(end - first for first, end in spans), *tail), dtype=self.array.dtype)
        position = 0
        for first, end in spans:
            frame = first
            while frame < end:
                chunk, start = divmod(frame, size)
                take = min(end - frame, size - start)
                out[position : position + take] = chunks[chunk][start : start + take]
                position += take
                frame += take
        return out

    def _chunks(self, ids: list[int], points: np.ndarray | None) -> dict[int, np.ndarray]:
        """Decoded chunks by index (already restricted to ``points``); a chunk never written is all zeros."""
        rest = (0,) * (self.array.ndim - 1)
        paths = {self.prefix + self.array.metadata.encode_chunk_key((c, *rest)): c for c in ids}
        data = self._fetch(list(paths))
        shape = (self.frames_per_chunk, *self.array.shape[1:])
        chunks = {}
        for path, c in paths.items():
            raw = data.get(path)
            if raw is None:
                block = np.zeros(shape, dtype=self.array.dtype)
            else:
                block = np.empty(shape, dtype=self.array.dtype)
                numcodecs.blosc.decompress(raw, block)
            chunks[c] = block if points is None else block.take(points, axis=1)
        return chunks

    def _fetch(self, paths: list[str]) -> dict[str, bytes]:
        """The bytes of each chunk object that exists (a chunk never written is absent)."""
        if not self.location.is_local:
            return self.location.fs.cat(paths, on_error="omit")  # concurrent on async filesystems
        data = {}
        for path in paths:  # plain reads: fsspec's local cat() costs twice as much per file
            try:
                with open(path, "rb") as f:
                    data[path] = f.read()
            except FileNotFoundError:
                pass
        return data
