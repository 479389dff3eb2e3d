"""Decoding a video with PyAV: every frame, upright, as RGB, with its timestamp.

PyAV, not OpenCV (both measured on tests/fixtures/signing.mp4, see docs/extract.md): they decode equally fast (~3 ms
a frame, nothing next to MediaPipe's ~55 ms), but OpenCV reads a truncated or corrupt file as a shorter
video without a word, and the OpenCV that ships with mediapipe ignores rotation metadata unless asked;
PyAV raises on damaged data and gives each frame's display rotation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# PyAV (about 0.4 s to import) is imported where a video is opened: finding and naming videos does not need it,
# and `mmprep extract` starts its workers' server before it (prep/extract/workers.py).


class DecodeError(Exception):
    """The file cannot be (fully) decoded; the message says why, for the video's ``error`` column."""


@dataclass
class Frame:
    time: float  # seconds, from the decoder
    rgb: np.ndarray  # uint8 [H, W, 3], rotation applied


def _reason(error) -> str:  # an av.error.FFmpegError
    return error.strerror or str(error)


class VideoReader:
    """An open video: ``fps`` from its stream, ``frames()`` decodes it. Use as a context manager.

    >>> with VideoReader("clip.mp4") as video:           # doctest: +SKIP
    ...     for frame in video.frames(stride=2):
    ...         print(frame.time, frame.rgb.shape)
    """

    def __init__(self, path: str):
        self.path = path
        try:
            empty = os.path.getsize(path) == 0
        except OSError as e:
            raise DecodeError(f"cannot read the file: {e.strerror or e}") from e
        if empty:
            raise DecodeError("the file is empty (0 bytes)")
        import av

        try:
            self._container = av.open(path)
        except av.error.FFmpegError as e:
            raise DecodeError(f"not a video file FFmpeg can read: {_reason(e)}") from e
        if not self._container.streams.video:
            kinds = ", ".join(s.type for s in self._container.streams) or "none"
            self._container.close()
            raise DecodeError(f"no video stream in the file (streams: {kinds})")
        self._stream = self._container.streams.video[0]
        # One decoding thread: a worker process is given one core, and MediaPipe needs it far more.
        self._stream.codec_context.thread_count = 1
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 0.0

    def frames(self, stride: int = 1, max_frames: int | None = None) -> Iterator[Frame]:
        """Every ``stride``-th frame (from the first), at most ``max_frames`` of them, in presentation order.

        Raises DecodeError if the data is damaged, if timestamps go backwards, or if no frame decodes.
        """
        import av
        from av.video.reformatter import VideoReformatter

        count = kept = 0
        last_time = -np.inf
        # One converter for the whole video: frame.to_ndarray(format=...) builds a new swscale context for every
        # frame (0.7-1.1 ms a frame, against 0.35 reused; the same pixels).
        to_rgb = VideoReformatter()
        try:
            for frame in self._container.decode(self._stream):
                if count % stride == 0:
                    time = frame.time if frame.time is not None else count / (self.fps or 1.0)
                    if time < last_time:
                        raise DecodeError(f"frame {count}: timestamp {time:.3f}s is before the previous frame's")
                    last_time = time
                    rgb = to_rgb.reformat(frame, format="rgb24").to_ndarray()
                    if frame.rotation:  # counter-clockwise degrees, as players apply them
                        rgb = np.ascontiguousarray(np.rot90(rgb, k=round(frame.rotation / 90)))
                    yield Frame(time, rgb)
                    kept += 1
                    if max_frames is not None and kept >= max_frames:
                        return
                count += 1
        except av.error.FFmpegError as e:
            raise DecodeError(
                f"decoding stopped after {count} frames, the file is truncated or corrupt: {_reason(e)}"
            ) from e
        if count == 0:
            raise DecodeError("the video stream has no frames")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
