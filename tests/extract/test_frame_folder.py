"""Folders of image frames as videos: decoding, discovery, and `mmprep extract` over them with real MediaPipe."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from helpers import write_frames, write_video

import prep
from prep.extract.decode import DecodeError, VideoReader
from prep.extract.frame_folder import FolderReader, gap, natural_key
from prep.extract.videos import find_videos


def test_natural_order_and_numbering_gaps():
    names = ["img10.png", "img9.png", "IMG1.png", "img2.png"]
    assert sorted(names, key=natural_key) == ["IMG1.png", "img2.png", "img9.png", "img10.png"]
    assert gap(["000001.jpg", "000002.jpg", "000004.jpg"]) == "000003.jpg"
    assert gap(["images0001.png", "images0002.png"]) is None
    assert gap(["f1.jpg", "f3.jpg", "f5.jpg"]) is None  # every other frame: a whole run of step 2
    assert gap(["a.jpg", "b.jpg"]) is None  # not numbered: nothing to check


@pytest.mark.mediapipe
def test_png_frames_decode_to_the_videos_own_frames(tmp_path, sample_video, sample_rgb):
    """A PNG folder written from the sample gives MediaPipe exactly what decoding the mp4 gives it."""
    folder = write_frames(tmp_path / "clip", sample_rgb, "images{:04d}.png", start=1)
    with VideoReader(str(sample_video)) as video, FolderReader(str(folder), fps=25) as frames:
        for a, b in zip(video.frames(), frames.frames(), strict=True):
            assert np.array_equal(a.rgb, b.rgb)
    with FolderReader(str(folder), fps=25) as frames:
        kept = list(frames.frames(stride=3, max_frames=4))
    assert [f.time for f in kept] == [0, 3 / 25, 6 / 25, 9 / 25]
    assert all(np.array_equal(f.rgb, sample_rgb[3 * i]) for i, f in enumerate(kept))


@pytest.mark.mediapipe
def test_jpeg_frames_are_close_to_the_videos(tmp_path, sample_rgb):
    folder = write_frames(tmp_path / "clip", sample_rgb[:4])
    with FolderReader(str(folder), fps=30) as frames:
        decoded = [f.rgb for f in frames.frames()]
    assert all(d.shape == (720, 540, 3) and d.dtype == np.uint8 for d in decoded)
    assert max(np.abs(d.astype(int) - s).mean() for d, s in zip(decoded, sample_rgb, strict=False)) < 3


def bad_folders(root, sample_rgb) -> dict[str, str]:
    """Frame folders that cannot be used, and what the error must say."""
    write_frames(root / "gap", sample_rgb[:5])
    (root / "gap/000002.jpg").unlink()
    write_frames(root / "corrupt", sample_rgb[:3])
    data = (root / "corrupt/000001.jpg").read_bytes()
    (root / "corrupt/000001.jpg").write_bytes(data[:200])
    write_frames(root / "sizes", sample_rgb[:2])
    write_frames(root / "sizes", [sample_rgb[2][::2, ::2]], start=2)
    write_frames(root / "text", sample_rgb[:1], "{:02d}.png")
    (root / "text/01.png").write_text("not an image")
    (root / "empty").mkdir()
    return {
        "gap": "frame 000002.jpg is missing: the numbered frames skip it",
        "corrupt": "frame 000001.jpg: not an image OpenCV can decode",
        "sizes": "frame 000002.jpg is 270x360, the first frame 540x720",
        "text": "frame 01.png: not an image OpenCV can decode",
        "empty": "the folder holds no frames (*.jpg, *.jpeg, *.png)",
    }


@pytest.mark.mediapipe
def test_unusable_folders_raise_an_error_naming_the_frame(tmp_path, sample_rgb):
    for name, message in bad_folders(tmp_path, sample_rgb).items():
        with pytest.raises(DecodeError, match="^" + re.escape(message)), FolderReader(str(tmp_path / name), 25) as r:
            list(r.frames())
    with pytest.raises(DecodeError, match="give it with --fps"):
        FolderReader(str(tmp_path / "gap"), fps=None)


def test_frame_folders_are_found_beside_video_files(tmp_path, sample_rgb):
    write_frames(tmp_path / "frames/a", sample_rgb[:2])
    write_frames(tmp_path / "frames/deeper/b", sample_rgb[:2], "{:d}.PNG")
    write_frames(tmp_path / "frames/.hidden/c", sample_rgb[:2])
    (tmp_path / "frames/notes").mkdir()
    (tmp_path / "frames/notes/readme.txt").write_text("no frames here")
    write_video(tmp_path / "frames/v.mp4", sample_rgb[:2])
    found = find_videos(tmp_path / "frames")
    assert [(v.id, v.path) for v in found] == [
        ("a", str(tmp_path / "frames/a")),
        ("deeper/b", str(tmp_path / "frames/deeper/b")),
        ("v", str(tmp_path / "frames/v.mp4")),
    ]
    assert [v.id for v in find_videos(tmp_path / "frames/a")] == ["a"]  # a frame folder on its own
    write_video(tmp_path / "frames/a.mp4", sample_rgb[:2])
    with pytest.raises(prep.errors.InputError, match="'a' would be the id of 2 files"):
        find_videos(tmp_path / "frames")


@pytest.mark.mediapipe
def test_extract_frame_folders_with_the_usual_ledger(tmp_path, sample_rgb, sample_landmarks, cli, store_url):
    """Real MediaPipe on frame folders: the same landmarks as on the video's frames, a failure per bad folder
    naming its frame, and the fingerprint/resume rules of video files (fps included)."""
    root = tmp_path / "frames"
    write_frames(root / "signer1/clip", sample_rgb[:12], "images{:04d}.png", start=1)
    expected = bad_folders(root, sample_rgb)
    expected.pop("empty")  # an empty folder holds no frames, so it is no video (recipes name it: see tests/corpora)

    assert "give their frame rate with --fps" in cli("extract", root, "--store", store_url, expect=2).output
    result = cli("extract", root, "--store", store_url, "--fps", "25", "-q", "--workers", "2", expect=3)
    assert "found 5 video(s); extracted 5 (ok 1, no_person 0, failed 4)" in result.output
    store = prep.open_store(store_url)
    row = store.video("signer1/clip")
    assert (row["status"], row["n_frames"], row["fps"], row["width"], row["height"]) == ("ok", 12, 25.0, 540, 720)
    assert row["source"] == str(root / "signer1/clip") and row["fingerprint"].endswith(",fps=25.0")
    xyz, conf = store.pose("signer1/clip")
    assert np.array_equal(xyz, sample_landmarks.xyz[:12]) and np.array_equal(conf, sample_landmarks.conf[:12])
    np.testing.assert_allclose(store.timestamps("signer1/clip"), np.arange(12) / 25)
    for name, message in expected.items():
        assert store.video(name)["status"] == "failed" and message in store.video(name)["error"]
        assert f"  {name}: {message}" in result.output
    assert prep.store.validate(store) == []

    again = cli("extract", root, "--store", store_url, "--fps", "25", "-q", expect=3)
    assert "nothing to extract: all 5 unchanged" in again.output
    shutil.copy(root / "signer1/clip/images0001.png", root / "signer1/clip/images0012.png")  # the last frame changed
    write_frames(root / "gap", sample_rgb[2:3], start=2)  # the missing frame is back
    changed = cli("extract", root, "--store", store_url, "--fps", "25", "-q", expect=3)
    assert "extracted 2 (ok 2, no_person 0, failed 0)" in changed.output and "skipped 3 unchanged" in changed.output
    other_rate = cli("extract", root, "--store", store_url, "--fps", "30", "-q", expect=3)  # another timing
    assert "extracted 5 (ok 2, no_person 0, failed 3)" in other_rate.output
    store = prep.open_store(store_url)
    assert store.video("signer1/clip")["fps"] == 30.0 and store.video("gap")["status"] == "ok"
    np.testing.assert_allclose(store.timestamps("signer1/clip"), np.arange(12) / 30)
