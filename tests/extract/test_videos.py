"""Finding videos (ids, suffixes, duplicates, bad names) and fingerprinting their content."""

from __future__ import annotations

import os

import pytest

from prep.errors import InputError
from prep.extract.videos import FINGERPRINT_SPAN, find_videos, fingerprint


def touch(root, *names, content=b"x"):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def test_ids_are_paths_without_suffix(tmp_path):
    touch(tmp_path, "b.mp4", "signer1/clip7.MOV", "signer1/deep/x.webm", "c.avi", "d.mkv", "notes.txt",
          ".hidden.mp4", ".cache/e.mp4", "signer1/._clip7.mp4")  # fmt: skip
    videos = find_videos(tmp_path)
    assert [v.id for v in videos] == ["b", "c", "d", "signer1/clip7", "signer1/deep/x"]
    assert videos[3].path == str(tmp_path / "signer1/clip7.MOV")


def test_a_link_to_a_missing_file_is_a_video_to_report(tmp_path):
    touch(tmp_path, "a.mp4")
    (tmp_path / "moved.mp4").symlink_to(tmp_path / "gone/moved.mp4")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "gone/notes.txt")  # not a video suffix: not a video
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    assert [v.id for v in find_videos(tmp_path)] == ["a", "b", "moved"]


def test_glob_replaces_the_suffixes(tmp_path):
    touch(tmp_path, "a.mp4", "b.mts", "sub/c.mts")
    assert [v.id for v in find_videos(tmp_path, "**/*.mts")] == ["b", "sub/c"]


def test_a_single_file(tmp_path):
    touch(tmp_path, "one.mp4")
    assert [(v.id, v.path) for v in find_videos(tmp_path / "one.mp4")] == [("one", str(tmp_path / "one.mp4"))]


def test_two_files_with_one_id_are_listed(tmp_path):
    touch(tmp_path, "a.mp4", "a.webm", "s/b.mp4", "s/b.mkv", "ok.mp4")
    with pytest.raises(InputError) as error:
        find_videos(tmp_path)
    message = str(error.value)
    assert "2 problem(s)" in message
    assert f"'a' would be the id of 2 files: {tmp_path / 'a.mp4'}, {tmp_path / 'a.webm'}" in message
    assert "'s/b' would be the id of 2 files" in message


def test_bad_names_and_empty_folders(tmp_path):
    touch(tmp_path, "bad:name.mp4")
    with pytest.raises(InputError, match=r"bad:name\.mp4: cannot be a video id"):
        find_videos(tmp_path)
    (tmp_path / "bad:name.mp4").unlink()
    with pytest.raises(InputError, match=r"no videos under .* \(looked for \*\.mp4"):
        find_videos(tmp_path)
    with pytest.raises(InputError, match="no such file or folder"):
        find_videos(tmp_path / "nowhere")


def test_fingerprint_follows_content_and_settings(tmp_path, sample_video):
    data = sample_video.read_bytes()
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    first = fingerprint(str(path), "stride=1")
    assert first.startswith(f"{len(data)}:") and first.endswith(":stride=1")
    os.utime(path, (0, 0))  # a copy or a touch changes the time, not the content
    assert fingerprint(str(path), "stride=1") == first
    assert fingerprint(str(path), "stride=2") != first
    for position in (10, len(data) - 10):  # a byte changed at either end, same size
        changed = bytearray(data)
        changed[position] ^= 0xFF
        path.write_bytes(bytes(changed))
        assert fingerprint(str(path), "stride=1") != first
    path.write_bytes(data[:-1])
    assert fingerprint(str(path), "stride=1") != first
    assert len(data) > 2 * FINGERPRINT_SPAN  # so the sample exercises the head-and-tail case
