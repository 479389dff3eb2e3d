"""The store: round trip, commit protocol, text generations, versions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from helpers import fake_result

import prep
from prep import VideoResult
from prep.errors import StoreError
from prep.layout import holistic
from prep.store import SCHEMA_VERSION, validate


def make_store(url, ids=("a", "b", "c"), split="train"):
    store = prep.open_store(url, mode="a")
    store.upsert_rows([{"id": i, "split": split, "translation": f"译文{i}"} for i in ids])
    return store


def test_round_trip(store_url):
    with make_store(store_url) as store:
        store.set_layout(holistic())
        a, b = fake_result("a", 7, seed=1), fake_result("b", 70, seed=2)
        store.commit_videos([a, b])
        store.commit_videos([VideoResult("c", "failed", error="moov atom not found", source="/videos/c.mp4")])

    store = prep.open_store(store_url)
    assert store.ids == ["a", "b", "c"]
    assert len(store.point_names) == 543
    assert store.point_names[11] == "POSE.LEFT_SHOULDER"
    assert store.point_names[-21] == "RIGHT_HAND.WRIST"
    xyz, conf = store.pose("b")
    assert xyz.dtype == np.float32 and xyz.shape == (70, 543, 3) and conf.shape == (70, 543)
    np.testing.assert_array_equal(xyz, b.xyz)
    np.testing.assert_array_equal(conf, b.conf)
    np.testing.assert_array_equal(store.pose("a")[0], a.xyz)
    np.testing.assert_array_equal(store.timestamps("b"), b.time)
    row = store.video("b")
    assert row["status"] == "ok" and row["n_frames"] == 70 and row["fps"] == 25.0
    assert (row["width"], row["height"], row["split"], row["translation"]) == (540, 720, "train", "译文b")
    failed = store.video("c")
    assert failed["status"] == "failed" and "moov" in failed["error"]
    with pytest.raises(StoreError, match="status failed"):
        store.pose("c")
    assert store.has_text.tolist() == [False, False, False]
    assert store.text_features is None and store.mask_init is None
    assert validate(store) == []


def test_recommit_replaces_a_video_and_keeps_the_others(store_url):
    with make_store(store_url) as store:
        store.set_layout(holistic())
        store.commit_videos([fake_result("a", 10, seed=1), fake_result("b", 5, seed=2)])
        new_a = fake_result("a", 12, seed=3)
        store.commit_videos([new_a])
        np.testing.assert_array_equal(store.pose("a")[0], new_a.xyz)
        np.testing.assert_array_equal(store.pose("b")[0], fake_result("b", 5, seed=2).xyz)
        assert validate(store) == []


def test_interrupted_commit_leaves_a_valid_store_with_the_row_pending(store_url, monkeypatch):
    with make_store(store_url) as store:
        store.set_layout(holistic())
        store.commit_videos([fake_result("a", 10, seed=1), fake_result("b", 5, seed=2)])
        real = store._write_columns

        def crash_before_status(rows, names):
            if list(names) == ["status"] and store._table["status"][rows[0]] == "ok":
                raise KeyboardInterrupt
            real(rows, names)

        monkeypatch.setattr(store, "_write_columns", crash_before_status)
        with pytest.raises(KeyboardInterrupt):
            store.commit_videos([fake_result("a", 30, seed=9)])

    store = prep.open_store(store_url)
    assert store.video("a")["status"] == "pending"
    assert store.video("a")["n_frames"] == 0  # a pending row reports no extraction
    np.testing.assert_array_equal(store.pose("b")[0], fake_result("b", 5, seed=2).xyz)
    assert validate(store) == []


def test_manifest_fields_update_in_place(store_url):
    with make_store(store_url) as store:
        added, updated = store.upsert_rows([{"id": "b", "split": "dev", "translation": "新"}, {"id": "d"}])
        assert (added, updated) == (1, 1)
    store = prep.open_store(store_url)
    assert store.ids == ["a", "b", "c", "d"]
    assert store.video("b")["split"] == "dev" and store.video("b")["translation"] == "新"
    assert store.video("d")["split"] == "" and store.video("d")["status"] == "pending"


def test_text_generations_and_mask_staleness(store_url):
    with make_store(store_url) as store:
        features = np.zeros((3, 4), np.float32)
        features[0] = [1, 2, 3, 4]
        provenance = {"model": "m", "revision": "r", "pooling": "mean", "max_length": 8, "dtype": "float32",
                      "device": "cpu", "created": "2026-01-01T00:00:00", "dim": 4, "n_with_text": 1}  # fmt: skip
        first = store.write_text(np.array([True, False, False]), ["手势", "", ""], features, provenance)
        store.write_mask_init(features[0], {"text_generation": first, "split": "train", "n_videos": 1,
                                            "created": "2026-01-01T00:00:00",
                                            "stats": {"norm": 5.48, "cosine_mean": 1.0, "cosine_std": 0.0}})  # fmt: skip
        assert store.mask_init_info["current"]
        store.upsert_rows([{"id": "d", "split": "dev", "translation": "x"}])
        # The text arrays are shorter than the table now: new rows read as without text.
        assert store.has_text.tolist() == [True, False, False, False]
        assert store.text_features.shape == (4, 4)
        second = store.write_text(np.ones(4, bool), ["a", "b", "c", "d"], np.ones((4, 4), np.float32), provenance)
        assert second == first + 1
        assert f"text/g{first}" not in store._root  # the old generation is gone
        assert store.mask_init_info["current"] is False
        np.testing.assert_array_equal(store.mask_init, [1, 2, 3, 4])
        assert store.descriptions == ["a", "b", "c", "d"]
        assert validate(store) == []


def test_layout_mismatch_is_refused(store_url):
    with make_store(store_url) as store:
        store.set_layout(holistic())
        with pytest.raises(StoreError, match="543-point"):
            store.set_layout(holistic(refine_face=True))


def test_newer_schema_is_refused_with_a_clear_message(store_url):
    make_store(store_url).close()
    root = zarr.open_group(store_url, mode="r+")
    meta = root.attrs["mmprep"]
    root.attrs["mmprep"] = {**meta, "schema_version": SCHEMA_VERSION + 1, "toolkit_version": "9.0"}
    with pytest.raises(StoreError, match=r"written by mmprep 9.0 with store schema 2.*Upgrade"):
        prep.open_store(store_url)


def test_missing_and_foreign_stores(tmp_path):
    with pytest.raises(StoreError, match="mmprep manifest"):
        prep.open_store(str(tmp_path / "nothing.zarr"))
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    with pytest.raises(StoreError, match="not an mmprep store"):
        prep.open_store(str(tmp_path / "other.zarr"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(StoreError, match="exists and is not an mmprep store"):
        prep.open_store(str(tmp_path / "notes"), mode="a")
    assert not (tmp_path / "notes.lock").exists()


def test_read_only_store_refuses_writes(store_url):
    make_store(store_url).close()
    with prep.open_store(store_url) as store, pytest.raises(StoreError, match="read-only"):
        store.upsert_rows([{"id": "x"}])


def test_default_store_comes_from_the_environment(tmp_path, monkeypatch):
    url = str(tmp_path / "env.zarr")
    monkeypatch.setenv("MMPREP_STORE", url)
    with prep.open_store(mode="a") as store:
        assert store.url == url
    assert (tmp_path / "env.zarr" / "zarr.json").exists()
    assert json.loads((tmp_path / "env.zarr" / "zarr.json").read_text())["attributes"]["mmprep"]["layout"] is None


def test_fsspec_url(tmp_path):
    url = "memory://stores/mem.zarr"
    with prep.open_store(url, mode="a") as store:
        store.upsert_rows([{"id": "a", "split": "train", "translation": "x"}])
        store.set_layout(holistic())
        store.commit_videos([fake_result("a", 3)])
    store = prep.open_store(url)
    assert store.ids == ["a"] and store.pose("a")[0].shape == (3, 543, 3)
    assert validate(store) == []
