"""import --format unisign: Uni-Sign's RTMPose COCO-WholeBody pickles, written here as its pose_extraction.py
writes them (a dict of per-frame keypoints / [W, H] and scores), into a store of their own layout."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES

import prep
from prep.data.dataset import PoseDataset
from prep.layout import coco_wholebody
from prep.store import validate

W, H = 512, 512


def unisign_frames(n_frames: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-frame keypoints [people, 133, 2] (x / W, y / H, float64 as the division gives) and scores
    [people, 133] (float32, RTMPose's SimCC scores: up to about 1.3 here, some 0 or below)."""
    rng = np.random.default_rng(seed)
    keypoints, scores = [], []
    for t in range(n_frames):
        people = 2 if t == 1 else 1  # a second person on frame 1: the first one counts
        pixels = rng.uniform([0, 0], [W, H], (people, 133, 2))
        keypoints.append(pixels / np.array([W, H])[None, None])
        scores.append(rng.uniform(-0.2, 1.3, (people, 133)).astype(np.float32))
    keypoints[2], scores[2] = np.zeros((0, 133, 2)), np.zeros((0, 133), np.float32)  # nobody on frame 2
    return keypoints, scores


@pytest.fixture
def pose_dir(tmp_path) -> Path:
    folder = tmp_path / "pose_format"
    folder.mkdir()
    keypoints, scores = unisign_frames(6)
    (folder / "S000000_P0000_T00.pkl").write_bytes(pickle.dumps({"keypoints": keypoints, "scores": scores}))
    news = {"keypoints": keypoints, "scores": scores, "start": 1, "end": 5}  # CSL-News: a range of the arrays
    (folder / "news-1.pkl").write_bytes(pickle.dumps(news))
    return folder


def test_unisign_pickles_import_into_their_own_layout(pose_dir, cli, store_url):
    args = ("import", pose_dir, "--format", "unisign", "--store", store_url)
    assert "--fps and --frame-size WIDTHxHEIGHT" in cli(*args, expect=1).output
    result = cli(*args, "--fps", "30", "--frame-size", f"{W}x{H}")
    assert "2 imported, 0 unchanged, 0 failed" in result.output
    store = prep.open_store(store_url)
    assert store.layout == coco_wholebody() and len(store.point_names) == 133
    assert store.point_names[5:7] == ["POSE.LEFT_SHOULDER", "POSE.RIGHT_SHOULDER"]
    assert store.point_names[91] == "LEFT_HAND.WRIST" and store.point_names[132] == "RIGHT_HAND.PINKY_TIP"

    keypoints, scores = unisign_frames(6)
    row = store.video("S000000_P0000_T00")
    assert (row["n_frames"], row["fps"], row["width"], row["height"]) == (6, 30.0, W, H)
    xyz, conf = store.pose("S000000_P0000_T00")
    for t in range(6):
        if t == 2:
            assert (conf[t] == 0).all() and (xyz[t] == 0).all()
            continue
        expected = np.clip(scores[t][0], 0, 1)
        np.testing.assert_array_equal(conf[t], expected)
        seen = expected > 0
        np.testing.assert_array_equal(xyz[t, seen, :2], keypoints[t][0][seen].astype(np.float32))
        assert (xyz[t, ~seen] == 0).all() and (xyz[t, :, 2] == 0).all()
    np.testing.assert_array_equal(store.pose("news-1")[1], conf[1:5])
    np.testing.assert_allclose(store.timestamps("news-1"), np.arange(4) / 30)
    assert validate(store) == []
    again = cli(*args, "--fps", "30", "--frame-size", f"{W}x{H}")
    assert "0 imported, 2 unchanged" in again.output


def test_upper_points_of_a_wholebody_store_are_the_ones_unisign_keeps(pose_dir, cli, store_url):
    cli("import", pose_dir, "--format", "unisign", "--fps", "30", "--frame-size", "512x512", "--store", store_url)
    with prep.open_store(store_url, mode="a") as store:
        store.upsert_rows([{"id": i, "split": "train", "translation": "你好"} for i in store.ids])
    data = PoseDataset(store_url, split="train", points="upper")
    names = prep.open_store(store_url).point_names
    # Uni-Sign's load_part_kp: body [0] + 3..10, face 23..39 every other, 83..90 and 53, hands 91..132
    unisign = sorted([0, *range(3, 11), *range(23, 40, 2), *range(83, 91), 53, *range(91, 133)])
    assert [names.index(n) for n in data.point_names] == unisign
    item = data[0]
    assert item["keypoints"].shape == (6, 69, 3) and np.isfinite(item["keypoints"]).all()


def test_bad_unisign_files_fail_alone_and_run_nothing(pose_dir, tmp_path, cli, store_url):
    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (pose_dir / "hostile.pkl").write_bytes(pickle.dumps({"keypoints": [Hostile()], "scores": [1]}))
    (pose_dir / "cut.pkl").write_bytes((pose_dir / "news-1.pkl").read_bytes()[:100])
    keypoints, scores = unisign_frames(3)
    (pose_dir / "body17.pkl").write_bytes(pickle.dumps({"keypoints": [k[:, :17] for k in keypoints], "scores": scores}))
    (pose_dir / "other.pkl").write_bytes(pickle.dumps({"poses": []}))
    args = ("--format", "unisign", "--fps", "25", "--frame-size", "210x260", "--store", store_url)
    result = cli("import", pose_dir, *args, expect=1)
    assert "2 imported, 0 unchanged, 4 failed" in result.output
    assert "hostile.pkl: not a usable Uni-Sign pose file: it asks to import posix.system" in result.output
    assert "cut.pkl: not a usable Uni-Sign pose file: not a readable pickle" in result.output
    assert "body17.pkl: not a usable Uni-Sign pose file: frame 0: keypoints of shape (1, 17, 2)" in result.output
    assert "expected a dict with 'keypoints' and 'scores' (Uni-Sign's pose format), found poses" in result.output
    assert not marker.exists()
    store = prep.open_store(store_url)
    assert store.video("hostile")["status"] == "failed" and validate(store) == []
    refused = cli("import", FIXTURES / "pose/example.pose", "--store", store_url, expect=1).output
    assert "has 543-point poses (mediapipe-holistic) but" in refused and "133-point poses" in refused
    assert "--fps and --frame-size are for Uni-Sign" in cli("import", FIXTURES / "pose", "--fps", "25",
                                                            "--store", store_url, expect=1).output  # fmt: skip


def test_malformed_unisign_files_are_failed_rows_and_the_others_land(pose_dir, cli, store_url):
    keypoints, scores = unisign_frames(3)
    (pose_dir / "int.pkl").write_bytes(pickle.dumps({"keypoints": 7, "scores": scores}))
    no_scores = [np.zeros((0, 133), np.float32), *scores[1:]]  # a person on frame 0, but no scores for them
    (pose_dir / "nobody-scored.pkl").write_bytes(pickle.dumps({"keypoints": keypoints, "scores": no_scores}))
    (pose_dir / "text.pkl").write_bytes(pickle.dumps({"keypoints": ["a", "b"], "scores": ["c", "d"]}))
    args = ("--format", "unisign", "--fps", "25", "--frame-size", "210x260", "--store", store_url)
    output = cli("import", pose_dir, *args, expect=1).output
    assert "2 imported, 0 unchanged, 3 failed" in output and "Traceback" not in output
    assert "int.pkl: not a usable Uni-Sign pose file: 'keypoints' is of type int; expected a list of frames" in output
    assert (
        "nobody-scored.pkl: not a usable Uni-Sign pose file: frame 0: 1 person(s) with keypoints but 0 with scores"
        in output
    )
    assert "text.pkl: not a usable Uni-Sign pose file: frame 0: not arrays of numbers (could not convert" in output
    store = prep.open_store(store_url)
    assert sorted(store.ids) == ["S000000_P0000_T00", "int", "news-1", "nobody-scored", "text"]
    assert [store.video(i)["status"] for i in ("int", "nobody-scored", "text")] == ["failed"] * 3
    assert store.video("news-1")["status"] == "ok" and validate(store) == []
