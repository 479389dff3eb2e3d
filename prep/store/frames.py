"""The pose arrays' physical layout: creating them, appending videos, and reading many videos' frames in one
call, straight from their chunks.

Each video starts on a chunk boundary of ``pose/xyz`` and ``pose/conf``, past the last committed frame: an
append never touches a chunk that committed frames are in, and a reader decodes only its own video's chunks.

A training loader reads thousands of small frame ranges per epoch. Through zarr's indexing each chunk costs
about 0.5-1 ms of Python (zarr 3.1.5), ten times what decoding it takes. The pose arrays written by
``Store.set_layout`` have a simple encoding: regular chunks along the frame axis only, little-endian bytes,
then either nothing (``pose/xyz``) or blosc (``pose/conf``). So this module reads chunk objects itself,
through fsspec (remote stores work too): from an uncompressed chunk only the bytes of the frames asked for,
a compressed chunk whole, decoded once per call with numcodecs (what zarr's blosc codec calls). Arrays with
any other encoding are read through zarr's slicing: slower, same values (tests compare both).
"""

from __future__ import annotations

from collections.abc import Sequence

import numcodecs.blosc
import numpy as np
import zarr
from zarr.codecs import BloscCodec, BytesCodec

from .location import Location

FRAME_CHUNK = 64  # frames per chunk of the pose arrays
COMPRESSOR = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


def _round_up(frame: int, multiple: int) -> int:
    return -(-frame // multiple) * multiple


def create_pose_arrays(pose: zarr.Group, n_points: int) -> None:
    """Empty ``xyz``, ``conf`` and ``time`` arrays for ``n_points``-point poses in the ``pose`` group."""
    # Coordinates are stored uncompressed: MediaPipe's float32 coordinates shrink only ~1.2x under lz4, and a
    # loader then reads just the bytes of the frames it needs (FrameReader). Confidences, mostly 0 and 1,
    # shrink ~16x.
    for name, shape, chunks, dtype, compressors in (
        ("xyz", (0, n_points, 3), (FRAME_CHUNK, n_points, 3), "float32", None),
        ("conf", (0, n_points), (FRAME_CHUNK, n_points), "float32", COMPRESSOR),
        ("time", (0,), (FRAME_CHUNK * 16,), "float64", COMPRESSOR),
    ):
        pose.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0, compressors=compressors,
                          overwrite=True)  # fmt: skip


def append_videos(pose: zarr.Group, videos: Sequence, committed_end: int) -> dict[str, int]:
    """Write the frames of ``videos`` (ok ``VideoResult``s) past ``committed_end``, each from the start of a chunk;
    returns each video's first frame. The gaps up to the chunk boundaries are 0."""
    size = pose["xyz"].chunks[0]
    offsets, position = {}, _round_up(committed_end, size)
    for video in videos:
        offsets[video.id] = position
        position = _round_up(position + video.n_frames, size)
    start, end = offsets[videos[0].id], position
    for name in ("xyz", "conf", "time"):
        array = pose[name]
        block = np.zeros((end - start, *array.shape[1:]), dtype=array.dtype)
        for video in videos:
            first = offsets[video.id] - start
            block[first : first + video.n_frames] = getattr(video, name)
        if array.shape[0] < end:
            array.resize((end, *array.shape[1:]))
        array[start:end] = block
    return offsets


def _encoding(array: zarr.Array) -> str | None:
    """``"raw"`` or ``"blosc"`` for chunks of whole frames in little-endian bytes (compressed by blosc alone);
    None for anything else."""
    codecs = tuple(getattr(array.metadata, "codecs", ()))
    if not codecs or tuple(array.chunks[1:]) != tuple(array.shape[1:]):
        return None
    first = codecs[0]
    if not (isinstance(first, BytesCodec) and first.endian is not None and first.endian.value == "little"):
        return None
    if len(codecs) == 1:
        return "raw"
    if len(codecs) == 2 and isinstance(codecs[1], BloscCodec):
        return "blosc"
    return None


class FrameReader:
    """Reads frame ranges of one frames-first array (``pose/xyz`` or ``pose/conf``)."""

    def __init__(self, array: zarr.Array, location: Location):
        self.array = array
        self.location = location
        self.prefix = f"{location.path.rstrip('/')}/{array.path}/"
        self.frames_per_chunk = array.chunks[0]
        self.encoding = _encoding(array)
        self.frame_shape = tuple(array.shape[1:])
        self.frame_bytes = int(np.prod(self.frame_shape)) * array.dtype.itemsize

    @property
    def fast(self) -> bool:
        return self.encoding is not None

    def read(self, spans: Sequence[tuple[int, int]], points: np.ndarray | None = None) -> np.ndarray:
        """The frames ``first:end`` of every span, concatenated in order, restricted to ``points`` on axis 1."""
        if not self.fast:
            parts = [self.array[first:end] for first, end in spans]
            out = np.concatenate(parts) if parts else np.empty((0, *self.frame_shape), self.array.dtype)
            return out if points is None else out[:, points]
        # Pieces: (chunk, first frame in it, frames) in output order; a span crossing chunk boundaries gives several.
        size, pieces = self.frames_per_chunk, []
        for first, end in spans:
            frame = first
            while frame < end:
                chunk, start = divmod(frame, size)
                take = min(end - frame, size - start)
                pieces.append((chunk, start, take))
                frame += take
        tail = self.frame_shape if points is None else (len(points), *self.frame_shape[1:])
        out = np.empty((sum(take for _, _, take in pieces), *tail), dtype=self.array.dtype)
        blocks = self._ranges(pieces) if self.encoding == "raw" else self._decoded(pieces)
        position = 0
        for block in blocks:
            out[position : position + len(block)] = block if points is None else block.take(points, axis=1)
            position += len(block)
        return out

    def _path(self, chunk: int) -> str:
        return self.prefix + self.array.metadata.encode_chunk_key((chunk, *(0,) * (self.array.ndim - 1)))

    def _empty(self, frames: int) -> np.ndarray:
        return np.zeros((frames, *self.frame_shape), dtype=self.array.dtype)  # a chunk never written: fill value 0

    def _ranges(self, pieces: list[tuple[int, int, int]]):
        """Uncompressed chunks: just the bytes of each piece's frames."""
        paths = [self._path(chunk) for chunk, _, _ in pieces]
        starts = [start * self.frame_bytes for _, start, _ in pieces]
        ends = [(start + take) * self.frame_bytes for _, start, take in pieces]
        if self.location.is_local:
            data = map(_read_range, paths, starts, ends)
        else:
            data = self.location.fs.cat_ranges(paths, starts, ends, on_error="return")
        for raw, (_, _, take) in zip(data, pieces, strict=True):
            if isinstance(raw, bytes):
                yield np.frombuffer(raw, dtype=self.array.dtype).reshape(take, *self.frame_shape)
            else:
                yield self._empty(take)

    def _decoded(self, pieces: list[tuple[int, int, int]]):
        """Compressed chunks: each needed one fetched and decoded once."""
        needed = sorted({chunk for chunk, _, _ in pieces})
        paths = [self._path(chunk) for chunk in needed]
        if self.location.is_local:
            fetched = dict(zip(needed, map(_read_range, paths, [0] * len(paths), [None] * len(paths)), strict=True))
        else:
            data = self.location.fs.cat(paths, on_error="omit")
            fetched = {chunk: data.get(path) for chunk, path in zip(needed, paths, strict=True)}
        chunks = {}
        for chunk, raw in fetched.items():
            if raw is None:
                chunks[chunk] = self._empty(self.frames_per_chunk)
            else:
                chunks[chunk] = np.empty((self.frames_per_chunk, *self.frame_shape), dtype=self.array.dtype)
                numcodecs.blosc.decompress(raw, chunks[chunk])
        for chunk, start, take in pieces:
            yield chunks[chunk][start : start + take]


def _read_range(path: str, start: int, end: int | None) -> bytes | None:
    """Bytes ``start:end`` of a local file (to its end with None); None when it does not exist. Plain reads:
    fsspec's local ``cat`` costs twice as much per file."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            return f.read() if end is None else f.read(end - start)
    except FileNotFoundError:
        return None
