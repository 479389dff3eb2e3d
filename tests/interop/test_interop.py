"""import/export: pose-format .pose files (checked with pose-format's own reader) and mmprep's HDF5 file."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import FIXTURES, fake_result, write_manifest
from hypothesis import given, settings
from hypothesis import strategies as st
from pose_format import Pose

import prep
from prep import VideoResult
from prep.interop.pose_format import Component, PoseFile, PoseFormatError, read_pose, write_pose
from prep.layout import holistic
from prep.store import table_columns, validate

POSE_DIR = FIXTURES / "pose"
REFINED = ["6fb01565da31c5500d1ef2cd2906b06b", "7731febd6afbbe90f806a4434c282016"]  # 586 points: face 478
HOLISTIC = ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]


def reference(path: Path) -> tuple[Pose, np.ndarray, np.ndarray]:
    """pose-format's reading of a file: (pose, data [T, P, 3], conf [T, P]) of the four Holistic components."""
    pose = Pose.read(path.read_bytes())
    keep = pose.get_components(HOLISTIC)
    return pose, np.asarray(keep.body.data.data[:, 0]), np.asarray(keep.body.confidence[:, 0])


def copy_poses(tmp_path: Path, names: dict[str, str]) -> Path:
    """A folder holding real .pose files under new relative names."""
    folder = tmp_path / "poses"
    for source, target in names.items():
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(POSE_DIR / f"{source}.pose", folder / target)
    return folder


@pytest.mark.parametrize("name", ["example", *REFINED])
def test_real_pose_files_import_with_their_counts_and_confidences(tmp_path, cli, name):
    store_url = str(tmp_path / "s.zarr")
    result = cli("import", POSE_DIR / f"{name}.pose", "--store", store_url)
    assert "1 imported" in result.output and "dropped components" in result.output
    assert "POSE_WORLD_LANDMARKS" in result.output

    pose, data, conf = reference(POSE_DIR / f"{name}.pose")
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    store = prep.open_store(store_url)
    assert store.ids == [name]
    video = store.video(name)
    assert (video["status"], video["n_frames"], video["fps"]) == ("ok", data.shape[0], 25.0)
    assert (video["width"], video["height"]) == (width, height)
    assert video["fingerprint"].startswith("sha256:") and video["source"].endswith(f"{name}.pose")
    assert len(store.point_names) == (553 if name in REFINED else 543)
    assert store.point_names[33:35] == ["FACE.0", "FACE.1"]

    xyz, stored_conf = store.pose(name)
    np.testing.assert_array_equal(stored_conf, conf)  # pose visibility, face/hands 1 or 0: unchanged
    np.testing.assert_array_equal(xyz[..., 2], data[..., 2])  # z as MediaPipe gives it
    np.testing.assert_array_max_ulp(xyz[..., 0], (data[..., 0] / width).astype(np.float32), maxulp=1)
    np.testing.assert_array_max_ulp(xyz[..., 1], (data[..., 1] / height).astype(np.float32), maxulp=1)
    assert 0.1 < xyz[..., 0][stored_conf > 0].mean() < 0.9  # normalised, not pixels
    missing = stored_conf == 0
    assert (xyz[missing] == 0).all()  # missing points stay missing
    np.testing.assert_array_equal(store.timestamps(name), np.arange(data.shape[0]) / 25.0)
    assert validate(store) == []


def test_example_pose_has_missing_hands_kept_missing(tmp_path, cli):
    store_url = str(tmp_path / "s.zarr")
    cli("import", POSE_DIR / "example.pose", "--store", store_url)
    store = prep.open_store(store_url)
    _, conf = store.pose("example")
    left = conf[:, store.layout.component_slice("LEFT_HAND")]
    # pose-format's reader counts 53.6% of the left hand's points as missing in this file
    assert 0.5 < (left == 0).mean() < 0.6
    assert set(np.unique(left)) == {0.0, 1.0}
    assert (conf[:, :33] > 0).all()  # pose visibility is never exactly 0 here


def test_a_folder_imports_with_ids_from_paths_and_failures_recorded(tmp_path, cli):
    folder = copy_poses(tmp_path, {REFINED[0]: "signer1/clip1.pose", REFINED[1]: "clip2.pose",
                                   "example": "signer2/other.pose"})  # fmt: skip
    (folder / "broken.pose").write_bytes((POSE_DIR / f"{REFINED[1]}.pose").read_bytes()[:5000])
    (folder / "noise.pose").write_bytes(b"\x00\x01garbage")
    (folder / "bad:name.pose").write_bytes(b"")
    store_url = str(tmp_path / "s.zarr")

    result = cli("import", folder, "--store", store_url, expect=1)
    assert "3 imported, 0 unchanged, 3 failed" in result.output
    assert f"{folder / 'broken.pose'}: not a usable .pose file: the file ends early" in result.output
    assert "noise.pose: not a usable .pose file: unknown .pose version" in result.output
    assert "bad:name.pose: its name cannot be a video id" in result.output
    assert "note: 1 video(s): the iris points were stored as missing" in result.output  # example.pose: 468 points

    store = prep.open_store(store_url)
    assert sorted(store.ids) == ["broken", "clip2", "noise", "signer1/clip1", "signer2/other"]
    status = {i: store.video(i)["status"] for i in store.ids}
    assert status == {"signer1/clip1": "ok", "clip2": "ok", "broken": "failed", "noise": "failed",
                      "signer2/other": "ok"}  # fmt: skip
    assert "truncated" in store.video("broken")["error"]
    assert all(store.video(i)["split"] == "" for i in store.ids)
    assert validate(store) == []
    assert "failures   2" in cli("info", "--store", store_url).output


@pytest.mark.parametrize("first", ["example", REFINED[0]])
def test_both_face_meshes_go_into_one_store(tmp_path, cli, first):
    """The store keeps the first file's face mesh; the other mesh is fitted to it, and one note says so."""
    names = {"example": "plain.pose", REFINED[0]: "refined1.pose", REFINED[1]: "refined2.pose"}
    folder = copy_poses(tmp_path, {first: "a_first.pose", **{k: v for k, v in names.items() if k != first}})
    store_url = str(tmp_path / "s.zarr")
    result = cli("import", folder, "--store", store_url)
    assert "3 imported, 0 unchanged, 0 failed" in result.output
    store = prep.open_store(store_url)
    refined_store = first != "example"
    assert len(store.point_names) == (553 if refined_store else 543)
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    if refined_store:
        assert notes == [f"note: 1 video(s): the iris points were stored as missing, confidence 0 ({store_url} holds "
                         "478 face points, the files 468)"]  # fmt: skip
    else:
        assert notes == [f"note: 2 video(s): the refined face mesh's 10 iris points were dropped ({store_url} holds "
                         "468 face points)"]  # fmt: skip
    face = store.layout.component_slice("FACE")
    for name, file in names.items():
        video_id = "a_first" if name == first else file.removesuffix(".pose")
        _, data, conf = reference(POSE_DIR / f"{name}.pose")
        xyz, stored = store.pose(video_id)
        source_face = slice(33, 33 + (478 if name in REFINED else 468))
        kept = min(478 if name in REFINED else 468, face.stop - face.start)
        np.testing.assert_array_equal(stored[:, face][:, :kept], conf[:, source_face][:, :kept])
        np.testing.assert_array_equal(xyz[:, face, 2][:, :kept], data[:, source_face, 2][:, :kept])
        np.testing.assert_array_equal(stored[:, face.stop :], conf[:, source_face.stop :])  # the hands
        if refined_store and name not in REFINED:
            assert (stored[:, face][:, 468:] == 0).all() and (xyz[:, face][:, 468:] == 0).all()
    assert validate(store) == []


def test_reimport_skips_unchanged_files_and_replaces_changed_ones(tmp_path, cli):
    folder = copy_poses(tmp_path, {REFINED[0]: "a.pose", REFINED[1]: "b.pose"})
    store_url = str(tmp_path / "s.zarr")
    cli(
        "manifest", write_manifest(tmp_path / "m.csv", [("a", "train", "甲"), ("b", "dev", "乙")]), "--store", store_url
    )
    cli("import", folder, "--store", store_url)
    frames = prep.open_store(store_url).stored_frames

    assert "0 imported, 2 unchanged, 0 failed" in cli("import", folder, "--store", store_url).output
    assert prep.open_store(store_url).stored_frames == frames  # nothing rewritten

    pose = read_pose((folder / "b.pose").read_bytes())
    pose.data, pose.confidence = pose.data[:7], pose.confidence[:7]
    (folder / "b.pose").write_bytes(write_pose(pose))
    assert "1 imported, 1 unchanged" in cli("import", folder, "--store", store_url).output
    store = prep.open_store(store_url)
    assert store.video("b")["n_frames"] == 7 and store.video("b")["split"] == "dev"  # the manifest is kept
    assert validate(store) == []


def test_a_file_with_no_person_and_one_with_no_frames(tmp_path, cli):
    pose = read_pose((POSE_DIR / f"{REFINED[0]}.pose").read_bytes())
    pose.confidence = np.zeros_like(pose.confidence)
    (tmp_path / "empty.pose").write_bytes(write_pose(pose))
    pose.data, pose.confidence = pose.data[:0], pose.confidence[:0]
    (tmp_path / "none.pose").write_bytes(write_pose(pose))
    store_url = str(tmp_path / "s.zarr")
    result = cli("import", tmp_path, "--store", store_url, expect=1)
    assert "0 imported, 1 without a person, 0 unchanged, 1 failed" in result.output
    store = prep.open_store(store_url)
    assert store.video("empty")["status"] == "no_person" and store.video("empty")["n_frames"] == 5
    assert store.video("none")["status"] == "failed" and "no frames" in store.video("none")["error"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: setattr(p, "components", p.components[:2]), "no LEFT_HAND_LANDMARKS, RIGHT_HAND_LANDMARKS"),
        (lambda p: setattr(p.components[1], "points", p.components[1].points[:128]), "FACE_LANDMARKS has 128 points"),
        (lambda p: setattr(p, "width", 0), "frame size is 0x360"),
        (lambda p: setattr(p, "fps", 0.0), "fps is 0.0"),
        (lambda p: p.data.__setitem__((0, 0, 0, 0), np.nan), "not finite"),
        (lambda p: p.confidence.__setitem__((0, 0, 0), 2.0), "2]; expected [0, 1]"),
        (lambda p: setattr(p.components[2], "points", ["X", *p.components[2].points[1:]]), "no point 'WRIST'"),
    ],
    ids=["no hands", "reduced face", "no size", "no fps", "nan", "confidence", "renamed point"],
)
def test_pose_files_that_are_not_holistic_are_refused_with_the_reason(tmp_path, cli, change, message):
    pose = read_pose((POSE_DIR / f"{REFINED[0]}.pose").read_bytes())
    change(pose)
    if pose.data.shape[2] != sum(len(c.points) for c in pose.components):
        n = sum(len(c.points) for c in pose.components)
        pose.data, pose.confidence = pose.data[:, :, :n], pose.confidence[:, :, :n]
    (tmp_path / "v.pose").write_bytes(write_pose(pose))
    result = cli("import", tmp_path / "v.pose", "--store", tmp_path / "s.zarr", expect=1)
    assert f"failed: v: {tmp_path / 'v.pose'}: not a usable .pose file: " in result.output
    assert message in result.output


def test_version_0_1_files_are_read_as_pose_format_reads_them(tmp_path):
    """pose-format can read but no longer write 0.1; build one (uint16 fps and frame count) by hand."""
    modern = (POSE_DIR / f"{REFINED[1]}.pose").read_bytes()
    pose = read_pose(modern)
    header_end = modern.index(struct.pack("<fIH", 25.0, pose.data.shape[0], 1))
    old = (struct.pack("<f", 0.1) + modern[4:header_end] + struct.pack("<HHH", 25, pose.data.shape[0], 1)
           + modern[header_end + 10 :])  # fmt: skip
    ours = read_pose(old)
    theirs = Pose.read(old)
    assert ours.version == 0.1 and ours.fps == theirs.body.fps == 25
    np.testing.assert_array_equal(ours.data, theirs.body.data.data)
    np.testing.assert_array_equal(ours.confidence, theirs.body.confidence)


def store_with_every_kind_of_row(url: str, refine_face: bool = False) -> prep.Store:
    n_points = 553 if refine_face else 543
    with prep.open_store(url, mode="a") as store:
        store.upsert_rows([
            {"id": "ok1", "split": "train", "translation": "你好", "signer": "P1", "gloss": "你 好", "description": "描述"},
            {"id": "sub/ok2", "split": "dev", "translation": "谢谢"},
            {"id": "bad", "split": "test", "translation": "再见"},
            {"id": "empty", "split": "train", "translation": "空"},
            {"id": "todo", "split": "train", "translation": "等"},
        ])  # fmt: skip
        store.set_layout(holistic(refine_face))
        ok2 = fake_result("sub/ok2", 30, n_points, seed=2)
        ok2.fps, ok2.time, ok2.width, ok2.height = 29.97, np.arange(30) / 29.97, 1920, 1080
        store.commit_videos([
            fake_result("ok1", 12, n_points, seed=1), ok2,
            VideoResult("bad", "failed", error="moov atom not found", source="/v/bad.mp4", fingerprint="fp-bad"),
            VideoResult("empty", "no_person", n_frames=9, fps=25.0, width=540, height=720, source="/v/empty.mp4"),
        ])  # fmt: skip
    return prep.open_store(url)


def test_exported_pose_files_open_with_pose_format_with_the_same_values(tmp_path, cli):
    store = store_with_every_kind_of_row(str(tmp_path / "s.zarr"), refine_face=True)
    result = cli("export", "--format", "pose", "--out", tmp_path / "out", "--store", store.url)
    assert "2 videos, 42 frames; skipped (no poses): 1 failed, 1 no_person" in result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "ok1.pose", "sub", "sub/ok2.pose"]  # fmt: skip

    pose = Pose.read((tmp_path / "out" / "sub" / "ok2.pose").read_bytes())
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (1920, 1080)
    assert pose.body.fps == np.float32(29.97) and pose.body.data.shape == (30, 1, 553, 3)
    xyz, conf = store.pose("sub/ok2")
    np.testing.assert_array_equal(pose.body.confidence[:, 0], conf)
    np.testing.assert_array_equal(pose.body.data.mask[:, 0, :, 0], conf == 0)  # pose-format masks missing points
    data = pose.body.data.data[:, 0]
    np.testing.assert_array_equal(data[..., 0], (xyz[..., 0].astype(np.float64) * 1920).astype(np.float32))
    np.testing.assert_array_equal(data[..., 1], (xyz[..., 1].astype(np.float64) * 1080).astype(np.float32))
    np.testing.assert_array_equal(data[..., 2], xyz[..., 2])


@pytest.mark.mediapipe
@pytest.mark.parametrize("refine_face", [False, True])
def test_exported_pose_headers_are_pose_formats_own_holistic_header(tmp_path, cli, refine_face):
    """The bones come from mmprep's copy of MediaPipe's connections (prep/holistic_connections.json): pose-format
    builds its header from MediaPipe itself."""
    from pose_format.utils.holistic import holistic_components

    store = store_with_every_kind_of_row(str(tmp_path / "s.zarr"), refine_face=refine_face)
    cli("export", "--format", "pose", "--out", tmp_path / "out", "--store", store.url)
    pose = Pose.read((tmp_path / "out" / "ok1.pose").read_bytes())
    expected = holistic_components(additional_face_points=10 if refine_face else 0)[:4]
    for ours, theirs in zip(pose.header.components, expected, strict=True):
        assert (ours.name, ours.format, ours.points, ours.limbs) == (theirs.name, theirs.format, theirs.points,
                                                                     theirs.limbs)  # fmt: skip


def test_pose_export_then_import_is_lossless_up_to_one_float32_step(tmp_path, cli):
    source = store_with_every_kind_of_row(str(tmp_path / "a.zarr"))
    cli("export", "--format", "pose", "--out", tmp_path / "out", "--store", source.url)
    target_url = str(tmp_path / "b.zarr")
    assert "2 imported" in cli("import", tmp_path / "out", "--store", target_url).output
    target = prep.open_store(target_url)
    assert target.layout == source.layout
    for video_id in ("ok1", "sub/ok2"):
        a, b = source.video(video_id), target.video(video_id)
        assert {k: b[k] for k in ("n_frames", "fps", "width", "height")} == {
            k: a[k] for k in ("n_frames", "fps", "width", "height")}  # fmt: skip
        (xyz_a, conf_a), (xyz_b, conf_b) = source.pose(video_id), target.pose(video_id)
        np.testing.assert_array_equal(conf_b, conf_a)
        np.testing.assert_array_equal(xyz_b[..., 2], xyz_a[..., 2])
        # x, y pass through float32 pixels: at most one float32 step (~6e-8 relative) apart
        np.testing.assert_array_max_ulp(xyz_b[..., :2], xyz_a[..., :2], maxulp=1)
        np.testing.assert_array_equal(target.timestamps(video_id), source.timestamps(video_id))


def test_real_pose_files_survive_import_and_export_bit_for_bit(tmp_path, cli):
    store_url = str(tmp_path / "s.zarr")
    cli("import", copy_poses(tmp_path, {n: f"{n}.pose" for n in REFINED}), "--store", store_url)
    cli("export", "--format", "pose", "--out", tmp_path / "out", "--store", store_url)
    for name in REFINED:
        original, data, conf = reference(POSE_DIR / f"{name}.pose")
        exported = Pose.read((tmp_path / "out" / f"{name}.pose").read_bytes())
        assert exported.header.dimensions.width == original.header.dimensions.width
        np.testing.assert_array_equal(exported.body.data.data[:, 0], data)
        np.testing.assert_array_equal(exported.body.confidence[:, 0], conf)


def test_h5_export_then_import_is_lossless(tmp_path, cli):
    source = store_with_every_kind_of_row(str(tmp_path / "a.zarr"))
    result = cli("export", "--format", "h5", "--out", tmp_path / "x.h5", "--store", source.url)
    assert "2 videos, 42 frames" in result.output
    target_url = str(tmp_path / "b.zarr")
    result = cli("import", tmp_path / "x.h5", "--store", target_url)
    assert "2 imported, 1 without a person, 1 rows without poses, 1 failed in the source, 0 unchanged, 0 failed" in (
        result.output
    )

    target = prep.open_store(target_url)
    assert target.ids == source.ids and target.layout == source.layout
    for name in table_columns():
        if name != "frame_offset":
            np.testing.assert_array_equal(target.column(name), source.column(name), err_msg=name)
    for video_id in ("ok1", "sub/ok2"):
        for got, expected in zip(target.pose(video_id), source.pose(video_id), strict=True):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(target.timestamps(video_id), source.timestamps(video_id))
    assert validate(target) == []
    cli("manifest", write_manifest(tmp_path / "m.csv", [("ok1", "dev", "改")]), "--store", target_url)
    result = cli("import", tmp_path / "x.h5", "--store", target_url)
    assert "0 imported" in result.output and "2 unchanged" in result.output  # same fingerprints: poses kept
    assert prep.open_store(target_url).video("ok1")["split"] == "train"  # but the file's fields applied


def test_h5_layout_is_self_describing(tmp_path, cli):
    source = store_with_every_kind_of_row(str(tmp_path / "a.zarr"))
    cli(
        "export",
        "--format",
        "h5",
        "--out",
        tmp_path / "x.h5",
        "--store",
        source.url,
        "--ids",
        "sub/ok2",
        "--ids",
        "bad",
    )
    with h5py.File(tmp_path / "x.h5") as f:
        assert f.attrs["format"] == "mmprep-poses" and f.attrs["format_version"] == 1
        assert list(f["videos/id"].asstr()[:]) == ["sub/ok2", "bad"]
        assert list(f["videos/frame_offset"][:]) == [0, -1]
        assert f["pose/xyz"].shape == (30, 543, 3) and f["pose/time"].dtype == np.float64
        assert f["pose/point_names"].asstr()[11] == "POSE.LEFT_SHOULDER"
        np.testing.assert_array_equal(f["pose/xyz"][:], source.pose("sub/ok2")[0])


def test_export_and_import_refuse_bad_arguments(tmp_path, cli):
    source = store_with_every_kind_of_row(str(tmp_path / "a.zarr"))
    (tmp_path / "ids.txt").write_text("ok1\nnope\n")
    result = cli("export", "--format", "h5", "--out", tmp_path / "x.h5", "--ids-from", tmp_path / "ids.txt",
                 "--store", source.url, expect=1)  # fmt: skip
    assert "no video nope in" in result.output and not (tmp_path / "x.h5").exists()
    (tmp_path / "file").write_text("x")
    assert "is a file" in cli("export", "--format", "pose", "--out", tmp_path / "file", "--store", source.url,
                              expect=1).output  # fmt: skip
    (tmp_path / "not.h5").write_bytes(b"not hdf5")
    assert "not.h5: not an HDF5 file" in cli("import", tmp_path / "not.h5", "--store", source.url, expect=1).output
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    result = cli("import", tmp_path / "other.h5", "--store", source.url, expect=1)
    assert "not an mmprep HDF5 file" in result.output
    (tmp_path / "empty").mkdir()
    result = cli("import", tmp_path / "empty", "--store", tmp_path / "new.zarr", expect=1)
    assert "no .pose files found" in result.output and not (tmp_path / "new.zarr").exists()
    (tmp_path / "poses.txt").write_text("")
    assert "--format pose, h5 or unisign" in cli("import", tmp_path / "poses.txt", "--store", source.url,
                                                 expect=1).output  # fmt: skip


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(names, st.integers(1, 4), st.integers(0, 3)), min_size=1, max_size=3),
    st.integers(0, 5), st.integers(0, 2), st.floats(0, 1000, width=32), st.integers(0, 65535),
)  # fmt: skip
def test_write_then_read_gives_back_every_field(spec, frames, people, fps, width):
    rng = np.random.default_rng(0)
    components = [Component(name, "XYZC", [f"p{i}" for i in range(n)], [(0, i) for i in range(limbs)],
                            [(i, 2 * i, 3 * i) for i in range(limbs)]) for name, n, limbs in spec]  # fmt: skip
    points = sum(len(c.points) for c in components)
    data = rng.standard_normal((frames, people, points, 3)).astype(np.float32)
    conf = rng.random((frames, people, points)).astype(np.float32)
    pose = PoseFile(width, 7, 3, fps, components, data, conf)
    back = read_pose(write_pose(pose))
    assert (back.width, back.height, back.depth, back.fps, back.version) == (width, 7, 3, fps, 0.2)
    assert back.components == components
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(back.confidence, conf)
    with pytest.raises(PoseFormatError):
        read_pose(write_pose(pose)[:-1])
