"""PoseDataset and collate on a store built from real MediaPipe output (tests/fixtures/pose/*.pose)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import FIXTURES, pose_file_result

import prep
from prep.data.augment import augment
from prep.data.dataset import PoseDataset, collate
from prep.data.normalize import FALLBACK_SHOULDER_WIDTH, normalize
from prep.errors import InputError, StoreError
from prep.layout import upper_points

SHOULDERS = (11, 12)  # POSE.LEFT_SHOULDER, POSE.RIGHT_SHOULDER in the holistic layout
TEXT_DIM = 8


def variant(result, video_id, **changes):
    """A copy of an extraction result under another id, with some arrays replaced."""
    fields = {k: getattr(result, k) for k in result.__dataclass_fields__}
    return prep.VideoResult(**{**fields, "id": video_id, **changes})


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    """train: the real 97-frame example, and the same video zoomed and shifted in its frame; dev: 30 frames of it.
    The zoomed copy has a description (random text features)."""
    url = str(tmp_path_factory.mktemp("real") / "real.zarr")
    example, layout = pose_file_result(FIXTURES / "pose" / "example.pose", "example")
    seen = example.conf > 0
    pixels = example.xyz * np.array([example.width, example.height, example.width], dtype=np.float32)
    zoomed = (pixels * 1.5 + np.array([40.0, -20.0, 0.0], dtype=np.float32)) / np.array(
        [example.width, example.height, example.width], dtype=np.float32
    )
    zoomed[~seen] = 0
    short = variant(example, "short", n_frames=30, xyz=example.xyz[:30], conf=example.conf[:30], time=example.time[:30])
    videos = [example, variant(example, "zoomed", xyz=zoomed), short]
    with prep.open_store(url, mode="a") as store:
        store.upsert_rows(
            [{"id": v.id, "split": "dev" if v.id == "short" else "train", "translation": f"t-{v.id}"} for v in videos]
        )
        store.set_layout(layout)
        store.commit_videos(videos)
        has_text = np.array([vid == "zoomed" for vid in store.ids])
        features = np.where(has_text[:, None], np.random.default_rng(0).normal(size=(3, TEXT_DIM)), 0)
        store.write_text(has_text, ["a description" if t else "" for t in has_text], features, {"dim": TEXT_DIM})
    return url


def test_an_item_carries_its_keypoints_confidences_length_text_and_translation(real_store):
    ds = prep.PoseDataset(real_store)  # train, upper, normalised
    assert len(ds) == 2 and ds.ids == ["example", "zoomed"]
    assert ds.has_text.tolist() == [False, True] and ds.lengths.tolist() == [97, 97]
    item = ds[1]
    assert item["keypoints"].shape == (97, 125, 3) and item["conf"].shape == (97, 125)
    assert item["length"] == 97 and item["has_text"] and item["translation"] == "t-zoomed"
    assert item["text"].shape == (TEXT_DIM,) and ds[0]["text"] is None
    assert ds.point_names == upper_points()


def test_normalisation_centres_on_the_shoulders_in_shoulder_widths(real_store):
    item = prep.PoseDataset(real_store, points="all")[0]
    xyz, conf = item["keypoints"], item["conf"]
    left, right = xyz[:, SHOULDERS[0], :2], xyz[:, SHOULDERS[1], :2]
    both = (conf[:, SHOULDERS[0]] > 0) & (conf[:, SHOULDERS[1]] > 0)
    assert both.sum() > 90
    np.testing.assert_allclose(((left + right) / 2)[both].mean(axis=0), 0, atol=1e-5)
    assert np.linalg.norm(left - right, axis=1)[both].mean() == pytest.approx(1, abs=1e-5)
    assert np.isfinite(xyz).all()
    missing = conf == 0
    assert missing.any() and not xyz[missing].any(), "missing points stay exactly 0"


def test_normalisation_removes_where_and_how_big_the_signer_is_in_the_frame(real_store):
    ds = prep.PoseDataset(real_store, points="all")
    original, zoomed = ds[0], ds[1]
    np.testing.assert_allclose(zoomed["keypoints"], original["keypoints"], atol=1e-4)
    raw = prep.PoseDataset(real_store, points="all", normalize=False)
    assert not np.allclose(raw[1]["keypoints"], raw[0]["keypoints"], atol=1e-2)


def test_a_video_without_shoulders_still_gives_finite_values(data_dir):
    example, _ = pose_file_result(data_dir / "pose" / "example.pose", "example")
    conf = example.conf.copy()
    conf[:, list(SHOULDERS)] = 0
    out = normalize(example.xyz, conf, example.width, example.height, SHOULDERS)
    assert np.isfinite(out).all()
    seen = conf > 0
    np.testing.assert_allclose(out[seen][:, :2].mean(axis=0), 0, atol=1e-4)  # centred on its detected points
    pixels = example.xyz[seen][:, 0] * example.width
    spread = np.ptp(out[seen][:, 0]) * FALLBACK_SHOULDER_WIDTH * example.width
    assert spread == pytest.approx(np.ptp(pixels), rel=1e-4)  # in thirds of the frame width

    nothing = normalize(np.zeros_like(example.xyz), np.zeros_like(conf), example.width, example.height, SHOULDERS)
    assert np.isfinite(nothing).all() and not nothing.any()


def test_point_subsets(real_store):
    ds = prep.PoseDataset(real_store, points=["RIGHT_HAND.WRIST", "POSE.NOSE", "FACE.13"], normalize=False)
    assert ds.point_names == ["RIGHT_HAND.WRIST", "POSE.NOSE", "FACE.13"]
    full = prep.PoseDataset(real_store, points="all", normalize=False)
    np.testing.assert_array_equal(ds[0]["keypoints"], full[0]["keypoints"][:, [522, 0, 33 + 13]])
    with pytest.raises(InputError, match=r"unknown point name\(s\) 'POSE.LEFT_HAND'.*'POSE.LEFT_SHOULDER'"):
        prep.PoseDataset(real_store, points=["POSE.LEFT_HAND"])
    with pytest.raises(InputError, match="'all', 'upper' or a list"):
        prep.PoseDataset(real_store, points="hands")


@pytest.mark.mediapipe
def test_upper_face_points_are_mediapipes_lips_and_eyebrows():
    from mediapipe.python.solutions import face_mesh_connections as mesh

    expected = {
        i
        for edges in (mesh.FACEMESH_LIPS, mesh.FACEMESH_LEFT_EYEBROW, mesh.FACEMESH_RIGHT_EYEBROW)
        for edge in edges
        for i in edge
    }
    face = {int(name.split(".")[1]) for name in upper_points() if name.startswith("FACE.")}
    assert face == expected


def test_max_frames_takes_the_middle_of_equal_segments(real_store):
    full = prep.PoseDataset(real_store, normalize=False)[0]
    ds = prep.PoseDataset(real_store, normalize=False, max_frames=10)
    assert ds.lengths.tolist() == [10, 10]
    middle = [int((k + 0.5) * 97 / 10) for k in range(10)]
    np.testing.assert_array_equal(ds[0]["keypoints"], full["keypoints"][middle])
    np.testing.assert_array_equal(ds[0]["keypoints"], ds[0]["keypoints"])
    assert prep.PoseDataset(real_store, split="dev", max_frames=50)[0]["length"] == 30  # shorter: untouched


def test_cache_gives_the_same_items_in_float16(real_store):
    plain = prep.PoseDataset(real_store)
    cached = prep.PoseDataset(real_store, cache=True)
    assert cached.cache_bytes == 2 * 97 * 125 * 4 * 2
    for a, b in zip(plain.__getitems__([0, 1]), cached.__getitems__([0, 1]), strict=True):
        np.testing.assert_allclose(b["keypoints"], a["keypoints"], atol=2e-3, rtol=1e-3)
        np.testing.assert_array_equal(b["conf"], a["conf"].astype(np.float16))
        assert b["keypoints"].dtype == np.float16 and not b["keypoints"].flags.writeable  # a view into the cache
    batch = prep.collate(cached.__getitems__([0, 1]))
    assert batch["keypoints"].dtype == torch.float32 and batch["conf"].dtype == torch.float32
    expected = prep.collate(plain.__getitems__([0, 1]))["keypoints"]
    torch.testing.assert_close(batch["keypoints"], expected, atol=2e-3, rtol=1e-3)


def test_collate_pads_and_masks(real_store):
    train = prep.PoseDataset(real_store)
    dev = prep.PoseDataset(real_store, split="dev")
    batch = prep.collate([dev[0], *train.__getitems__([0, 1])])
    assert batch["keypoints"].shape == (3, 97, 125, 3) and batch["conf"].shape == (3, 97, 125)
    assert batch["lengths"].tolist() == [30, 97, 97] and batch["mask"].sum(dim=1).tolist() == [30, 97, 97]
    assert not batch["keypoints"][0, 30:].any() and not batch["mask"][0, 30:].any()
    assert batch["has_text"].tolist() == [False, False, True]
    assert batch["text"].shape == (3, TEXT_DIM) and not batch["text"][:2].any()
    np.testing.assert_allclose(batch["text"][2].numpy(), train[1]["text"])
    assert batch["ids"] == ["short", "example", "zoomed"] and batch["translations"][0] == "t-short"


def test_dataloader_with_the_sampler_and_a_worker(real_store):
    ds = prep.PoseDataset(real_store, cache=True)
    sampler = prep.StratifiedBatchSampler(ds.has_text, batch_size=2)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=prep.collate, num_workers=1)
    batches = list(loader)
    assert len(batches) == 1 and sorted(batches[0]["ids"]) == ["example", "zoomed"]
    assert batches[0]["has_text"].sum() == 1


def test_refined_face_store_and_missing_split(tmp_path, data_dir):
    url = str(tmp_path / "refined.zarr")
    results = [
        pose_file_result(data_dir / "pose" / f"{name}.pose", name)
        for name in ("7731febd6afbbe90f806a4434c282016", "6fb01565da31c5500d1ef2cd2906b06b")
    ]
    with prep.open_store(url, mode="a") as store:
        store.upsert_rows([{"id": r.id, "split": "train", "translation": "x"} for r, _ in results])
        store.set_layout(results[0][1])
        store.commit_videos([r for r, _ in results])
    ds = prep.PoseDataset(url)
    assert ds.lengths.tolist() == [18, 5] and ds[0]["keypoints"].shape == (18, 125, 3)
    assert np.isfinite(ds[0]["keypoints"]).all() and ds[0]["text_dim"] == 0
    assert prep.collate(ds.__getitems__([0, 1]))["text"].shape == (2, 0)
    with pytest.raises(StoreError, match="no extracted \\(ok\\) videos in split 'test'"):
        prep.PoseDataset(url, split="test")


@pytest.fixture(scope="module")
def store_with_tokens(tmp_path_factory):
    """Two copies of a store of the real example: per-token text features for two of four videos, and pooled
    features only. Returns the first's URL and the tokens each video was given."""
    example, layout = pose_file_result(FIXTURES / "pose" / "example.pose", "example")
    videos = [variant(example, f"v{i}") for i in range(4)]
    rng = np.random.default_rng(1)
    tokens = {"v1": rng.normal(size=(3, TEXT_DIM)), "v3": rng.normal(size=(5, TEXT_DIM))}
    root = tmp_path_factory.mktemp("tokens")
    for name, keep in (("tokens", True), ("pooled", False)):
        with prep.open_store(str(root / f"{name}.zarr"), mode="a") as store:
            store.upsert_rows([{"id": v.id, "split": "train", "translation": "t"} for v in videos])
            store.set_layout(layout)
            store.commit_videos(videos)
            has_text = np.array([vid in tokens for vid in store.ids])
            pooled = np.stack([tokens[v].mean(0) if v in tokens else np.zeros(TEXT_DIM) for v in store.ids])
            counts = np.array([len(tokens.get(v, ())) for v in store.ids])
            flat = np.concatenate([tokens[v] for v in store.ids if v in tokens])
            store.write_text(has_text, ["d" if t else "" for t in has_text], pooled, {"keep_tokens": keep},
                             flat if keep else None, counts if keep else None)  # fmt: skip
    return str(root / "tokens.zarr"), {k: v.astype(np.float32) for k, v in tokens.items()}


def test_per_token_text_features_come_with_their_videos(store_with_tokens):
    url, expected = store_with_tokens
    ds = PoseDataset(url, text_tokens=True)
    batch = collate(ds.__getitems__(range(len(ds))))
    for b, video in enumerate(batch["ids"]):
        count = int(batch["text_token_mask"][b].sum())
        if video in expected:
            np.testing.assert_array_equal(batch["text_tokens"][b, :count].numpy(), expected[video])
        else:
            assert count == 0 and not batch["has_text"][b]
    with pytest.raises(StoreError, match="--keep-tokens"):
        PoseDataset(url.replace("tokens.zarr", "pooled.zarr"), text_tokens=True)


def test_augmentation_varies_tempo_and_geometry_keeps_missing_points_and_follows_torchs_seed(real_store):
    plain = PoseDataset(real_store, split="train")
    varied = PoseDataset(real_store, split="train", augment=True)
    item = plain[0]
    torch.manual_seed(5)
    first = [varied[0] for _ in range(8)]
    torch.manual_seed(5)
    again = varied[0]
    np.testing.assert_array_equal(again["keypoints"], first[0]["keypoints"])
    lengths = {x["length"] for x in first}
    assert len(lengths) > 1 and all(item["length"] / 1.25 - 1 <= n <= item["length"] * 1.25 + 1 for n in lengths)
    for x in first:
        missing = x["conf"] == 0
        assert missing.any() and (x["keypoints"][missing] == 0).all()
    # the first frame stays the first: its points moved, the distances between them scaled by at most 10 %
    same = first[0]
    seen = (item["conf"][0] > 0) & (same["conf"][0] > 0)
    before, after = item["keypoints"][0][seen], same["keypoints"][0][seen]
    assert not np.allclose(before, after, atol=1e-3)
    ratio = np.linalg.norm(after[1:] - after[0], axis=1) / np.linalg.norm(before[1:] - before[0], axis=1)
    assert np.allclose(ratio, ratio[0], rtol=1e-3) and 0.9 - 1e-4 <= ratio[0] <= 1.1 + 1e-4
    np.testing.assert_array_equal(plain[0]["keypoints"], item["keypoints"])  # without augment: always the same


def test_tempo_warp_plays_each_quarter_at_its_own_tempo_and_is_off_by_default():
    n = 200
    xyz = np.zeros((n, 2, 3), dtype=np.float32)
    conf = np.tile((np.arange(n, dtype=np.float32) + 1)[:, None], (1, 2))  # the source frame's number, plus one

    def frames_kept(warp: float) -> np.ndarray:
        return augment(xyz, conf, warp)[1][:, 0].astype(int) - 1

    torch.manual_seed(3)
    plain = frames_kept(1.0)
    f = len(plain)
    np.testing.assert_array_equal(plain, np.minimum(np.arange(f) * n // f, n - 1))  # evenly spaced, as before warps
    spreads = []
    for seed in range(5):
        torch.manual_seed(seed)
        kept = frames_kept(2.0)
        assert kept[0] == 0 and (np.diff(kept) >= 0).all() and kept[-1] >= n - 1 - 2 * 2  # in order, end to end
        quarters = np.array_split(np.arange(len(kept)), 4)
        rates = [(kept[q[-1]] - kept[q[0]]) / (len(q) - 1) for q in quarters]
        assert all(0.2 <= r <= 3 for r in rates)  # rate / mean rate within [1/4, 4], times the tempo
        spreads.append(max(rates) / min(rates))
    assert max(spreads) > 1.5  # the quarters' tempos differ, by up to warp squared
