"""Decoding: every frame exactly, timestamps, rotation metadata, and damaged files as clear DecodeErrors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import remux_rotated, write_video, write_zero_frame_video

from prep.extract.decode import DecodeError, VideoReader


def read_all(path, **kwargs):
    with VideoReader(str(path)) as video:
        frames = list(video.frames(**kwargs))
        return video.fps, frames


def test_sample_decodes_every_frame(sample_video, sample_rgb):
    fps, frames = read_all(sample_video)
    assert len(frames) == 58
    # the reader's one converter per video gives the pixels of PyAV's frame-by-frame to_ndarray
    assert all(np.array_equal(frame.rgb, reference) for frame, reference in zip(frames, sample_rgb, strict=True))
    assert fps == pytest.approx(29.9167, abs=1e-3)
    assert frames[0].rgb.shape == (720, 540, 3) and frames[0].rgb.dtype == np.uint8
    times = np.array([f.time for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 1 / fps, rtol=0.05)


def test_stride_and_max_frames_keep_the_right_frames(sample_video):
    _, every = read_all(sample_video)
    _, some = read_all(sample_video, stride=3, max_frames=5)
    assert [f.time for f in some] == [f.time for f in every[0:15:3]]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(some, every[0:15:3], strict=True))


@pytest.mark.parametrize(("rotation", "turns"), [(90, 1), (-90, -1), (180, 2)])
def test_rotation_metadata_is_applied(sample_video, sample_rgb, tmp_path, rotation, turns):
    """The same compressed frames with a display rotation tag come out turned the way a player shows them."""
    rotated = remux_rotated(sample_video, tmp_path / "rotated.mp4", rotation)
    _, frames = read_all(rotated, max_frames=3)
    for frame, original in zip(frames, sample_rgb, strict=False):
        assert np.array_equal(frame.rgb, np.rot90(original, turns))


def test_portrait_phone_video_comes_out_upright(sample_rgb, tmp_path):
    """A phone stores a portrait video landscape and tags it to be turned 90° clockwise."""
    stored = [np.ascontiguousarray(np.rot90(f)) for f in sample_rgb[:4]]  # lying on its side, 720 x 540
    _, frames = read_all(write_video(tmp_path / "phone.mp4", stored, rotation=-90))
    assert frames[0].rgb.shape == (720, 540, 3)
    assert np.abs(frames[0].rgb.astype(int) - sample_rgb[0]).mean() < 8  # upright again, up to re-encoding


def test_damaged_files_raise_clear_errors(sample_video, tmp_path):
    data = sample_video.read_bytes()
    cases = {
        "truncated.mp4": (data[: len(data) // 2], "truncated or corrupt"),
        "corrupt.mp4": (data[:150_000] + bytes(40_000) + data[190_000:], "truncated or corrupt"),
        "empty.mp4": (b"", "empty (0 bytes)"),
        "notes.mp4": (b"this is a text file, not a video\n", "not a video file"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DecodeError, match=re.escape(message)):
            read_all(tmp_path / name)
    with pytest.raises(DecodeError, match="no frames"):
        read_all(write_zero_frame_video(tmp_path / "zero-frames.avi"))
    with pytest.raises(DecodeError, match="cannot read the file"):
        read_all(tmp_path / "missing.mp4")
