"""mmprep extract: real MediaPipe on the real sample video and variants made from it, through a real dask cluster.

One extraction of a small dataset (module fixture) is shared by the tests that only read its store; tests that
write work on copies.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

import numpy as np
import psutil
import pytest
from distributed import Client
from helpers import dask_cluster, write_manifest, write_video, write_zero_frame_video

import prep
from prep.errors import StoreError
from prep.extract.decode import DecodeError
from prep.extract.holistic import HolisticModel
from prep.extract.videos import fingerprint
from prep.layout import holistic
from prep.store import table_columns

pytestmark = pytest.mark.mediapipe  # every test here extracts with MediaPipe

LAYOUT = holistic()
POSE, FACE = LAYOUT.component_slice("POSE"), LAYOUT.component_slice("FACE")
LEFT, RIGHT = LAYOUT.component_slice("LEFT_HAND"), LAYOUT.component_slice("RIGHT_HAND")
EXPECTED_STATUS = {
    "signing": "ok", "phone/portrait": "ok", "small": "ok", "noise": "no_person",
    "bad/truncated": "failed", "bad/empty": "failed", "bad/notes": "failed", "bad/zero-frames": "failed",
}  # fmt: skip


def noise_frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, sample_video, sample_rgb) -> Path:
    """The sample, a portrait phone version of it, a smaller one at half the frame rate, a clip with nobody in it,
    and four files that are not decodable videos."""
    root = tmp_path_factory.mktemp("videos")
    (root / "phone").mkdir()
    (root / "bad").mkdir()
    shutil.copy(sample_video, root / "signing.mp4")
    lying = [np.ascontiguousarray(np.rot90(f)) for f in sample_rgb[:10]]
    write_video(root / "phone/portrait.mp4", lying, rotation=-90)
    write_video(root / "small.mp4", [f[::2, ::2] for f in sample_rgb[:20:2]], fps=15)
    write_video(root / "noise.mp4", noise_frames(8), fps=10)
    data = sample_video.read_bytes()
    (root / "bad/truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "bad/empty.mp4").write_bytes(b"")
    (root / "bad/notes.mp4").write_text("a text file named like a video\n")
    write_zero_frame_video(root / "bad/zero-frames.avi")
    return root


@pytest.fixture(scope="module")
def extracted(dataset, tmp_path_factory):
    """(store url, CLI result) of one `mmprep extract` over the dataset."""
    from click.testing import CliRunner

    from prep.cli import main

    url = str(tmp_path_factory.mktemp("store") / "videos.zarr")
    result = CliRunner().invoke(main, ["extract", str(dataset), "--store", url], catch_exceptions=False)
    return url, result


def test_sample_facts(sample_landmarks):
    """The facts measured on the sample (tests/fixtures/NOTICE.md), and the confidence conventions."""
    xyz, conf = sample_landmarks.xyz, sample_landmarks.conf
    assert xyz.shape == (58, 543, 3) and conf.shape == (58, 543)
    assert (conf[:, FACE] == 1).all()  # face on every frame
    assert (conf[:, POSE].max(axis=1) > 0.5).all()  # pose on every frame; conf is visibility
    assert conf[:, POSE].min() > 0 and len(np.unique(conf[:, POSE])) > 100
    right = conf[:, RIGHT].max(axis=1) == 1
    assert 15 <= right.sum() <= 25
    assert (conf[:, LEFT] == 0).all() and (xyz[:, LEFT] == 0).all()  # no left hand: zeros, confidence 0
    assert (xyz[~right][:, RIGHT] == 0).all() and set(np.unique(conf[:, RIGHT])) == {0.0, 1.0}
    assert 0 < xyz[:, POSE, :2].mean() < 1  # normalised to the frame


def test_no_tracking_state_carries_over_between_videos(sample_rgb, sample_landmarks):
    """A video's result does not depend on what the graph saw before (video mode tracks across frames)."""
    model = HolisticModel()
    model.landmarks(noise_frames(2) + sample_rgb[:-7:-1])  # another video first: the sample's end, backwards
    again = model.landmarks(sample_rgb[:12])
    assert np.array_equal(again.xyz, sample_landmarks.xyz[:12])
    assert np.array_equal(again.conf, sample_landmarks.conf[:12])
    model.close()


def test_a_video_that_ends_in_an_error_leaves_no_state_either(sample_rgb, sample_landmarks):
    model = HolisticModel()

    def truncated():
        yield from sample_rgb[:-7:-1]
        raise DecodeError("decoding stopped after 6 frames")

    with pytest.raises(DecodeError):
        model.landmarks(truncated())
    again = model.landmarks(sample_rgb[:12])
    assert np.array_equal(again.xyz, sample_landmarks.xyz[:12])
    assert np.array_equal(again.conf, sample_landmarks.conf[:12])
    model.close()


def test_model_files_that_are_not_installed(monkeypatch, cli, store_url, dataset):
    """Complexity 0 needs a model MediaPipe downloads; offline that fails with where to put the file."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    result = cli("extract", dataset / "signing.mp4", "--store", store_url, "--model-complexity", "0", expect=1)
    assert "pose_landmark_lite.tflite" in result.output
    assert "https://storage.googleapis.com/mediapipe-assets/pose_landmark_lite.tflite" in result.output
    assert "--model-complexity 1" in result.output
    assert not Path(store_url).exists()


def in_a_session(command: list[str]) -> tuple[subprocess.CompletedProcess, list[tuple[int, dict]]]:
    """Run ``command`` as a user runs it, in a session of its own: its result, and the processes of its session
    still there once it has exited (killed: don't leave them behind; the test fails on them)."""
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    stdout, stderr = process.communicate(timeout=300)
    left = [p for p in psutil.process_iter(["name", "status"]) if session_of(p) == process.pid]
    for p in left:
        with suppress(psutil.Error):
            p.kill()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr), [(p.pid, p.info) for p in left]


def session_of(process: psutil.Process) -> int | None:
    try:
        return os.getsid(process.pid)
    except OSError:
        return None


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, sample_video):
    """`mmprep extract` over a copy of the sample and a link to a file that was moved away, in a session of its
    own: (exit status, stderr, the store, the processes of its session still there when it had exited)."""
    root = tmp_path_factory.mktemp("linked")
    shutil.copy(sample_video, root / "here.mp4")
    (root / "moved.mp4").symlink_to(root / "elsewhere/moved.mp4")
    command = [str(Path(sys.executable).with_name("mmprep")), "extract", str(root), "--store", str(root / "s.zarr"),
               "--max-frames", "3", "--workers", "1", "-q"]  # fmt: skip
    done, left = in_a_session(command)
    return done.returncode, done.stderr, str(root / "s.zarr"), left


def test_a_link_to_a_missing_file_is_a_failed_video(cli_run):
    returncode, stderr, url, _ = cli_run
    assert returncode == 3, stderr
    target = Path(url).parent / "elsewhere/moved.mp4"
    assert f"moved: the link points to a missing file ({target})" in stderr
    store = prep.open_store(url)
    assert store.video("here")["status"] == "ok" and store.video("moved")["status"] == "failed"


def test_every_video_gets_its_status(extracted):
    url, result = extracted
    assert result.exit_code == 3, result.output  # some videos failed
    store = prep.open_store(url)
    assert dict(zip(store.ids, store.column("status"), strict=True)) == EXPECTED_STATUS
    errors = dict(zip(store.ids, store.column("error"), strict=True))
    assert "truncated or corrupt" in errors["bad/truncated"]
    assert "empty (0 bytes)" in errors["bad/empty"]
    assert "not a video file" in errors["bad/notes"]
    assert "no frames" in errors["bad/zero-frames"]
    assert errors["signing"] == errors["noise"] == ""
    assert "found 8 video(s); extracted 8 (ok 3, no_person 1, failed 4)" in result.output
    assert "4 video(s) failed (exit status 3):\n  bad/empty: the file is empty (0 bytes)" in result.output
    assert prep.store.validate(store) == []


def test_stored_poses_are_mediapipes(extracted, dataset, sample_landmarks):
    """The worker's result for the sample is exactly what MediaPipe gives in this process."""
    store = prep.open_store(extracted[0])
    assert store.point_names == LAYOUT.point_names
    row = store.video("signing")
    assert (row["n_frames"], row["width"], row["height"]) == (58, 540, 720)
    assert row["fps"] == pytest.approx(29.9167, abs=1e-3)
    assert row["source"] == str(dataset / "signing.mp4")
    assert row["fingerprint"] == fingerprint(str(dataset / "signing.mp4"), "stride=1,max_frames=all,complexity=1")
    xyz, conf = store.pose("signing")
    assert np.array_equal(xyz, sample_landmarks.xyz) and np.array_equal(conf, sample_landmarks.conf)
    times = store.timestamps("signing")
    assert times[0] == 0 and np.allclose(np.diff(times), 1 / row["fps"], rtol=0.05)


def test_rotated_and_resized_variants(extracted, sample_landmarks):
    store = prep.open_store(extracted[0])
    portrait = store.video("phone/portrait")
    assert (portrait["n_frames"], portrait["width"], portrait["height"]) == (10, 540, 720)
    xyz, _ = store.pose("phone/portrait")
    # Upright again, so MediaPipe sees what it saw in the original (up to re-encoding).
    assert np.abs(xyz[:, POSE, :2] - sample_landmarks.xyz[:10, POSE, :2]).mean() < 0.02
    small = store.video("small")
    assert (small["n_frames"], small["width"], small["height"], small["fps"]) == (10, 270, 360, 15.0)
    assert np.allclose(np.diff(store.timestamps("small")), 1 / 15)
    for video_id in ("noise", "bad/empty"):
        with pytest.raises(StoreError, match="has no poses"):
            store.pose(video_id)
    assert store.video("noise")["n_frames"] == 8


def test_info_describes_the_extraction(extracted, cli):
    output = cli("info", "--store", extracted[0]).output
    assert "ok 3, failed 4, no_person 1" in output
    assert "mediapipe-holistic: 543 points" in output
    assert "bad/notes  [failed]  not a video file" in output


def test_rerun_skips_unchanged_videos_and_redoes_changed_ones(extracted, dataset, tmp_path, cli):
    url = str(tmp_path / "copy.zarr")
    shutil.copytree(extracted[0], url)
    before = prep.open_store(url).pose("signing")
    result = cli("extract", dataset, "--store", url, "-q", expect=3)  # failures are still failures
    assert "nothing to extract: all 8 unchanged" in result.output
    assert "bad/empty: the file is empty" in result.output

    videos = tmp_path / "videos"
    shutil.copytree(dataset, videos)
    write_video(videos / "small.mp4", noise_frames(5, seed=1), fps=10)  # the same name, other content
    (videos / "bad/empty.mp4").write_bytes((dataset / "noise.mp4").read_bytes())  # a failed video repaired
    result = cli("extract", videos, "--store", url, "-q", expect=3)
    assert "extracted 2 (ok 0, no_person 2, failed 0)" in result.output and "skipped 6 unchanged" in result.output
    store = prep.open_store(url)
    assert store.video("small")["status"] == store.video("bad/empty")["status"] == "no_person"
    xyz, conf = store.pose("signing")
    assert np.array_equal(xyz, before[0]) and np.array_equal(conf, before[1])
    assert prep.store.validate(store) == []


def test_force_stride_and_max_frames(tmp_path, sample_video, sample_landmarks, cli, store_url):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(sample_video, videos / "a.mp4")
    args = ("extract", videos, "--store", store_url, "-q", "--workers", "1", "--stride", "2", "--max-frames", "4")
    assert "extracted 1 (ok 1" in cli(*args).output
    store = prep.open_store(store_url)
    assert store.video("a")["n_frames"] == 4
    assert store.video("a")["fingerprint"].endswith(":stride=2,max_frames=4,complexity=1")
    assert "nothing to extract" in cli(*args).output
    assert "extracted 1 (ok 1" in cli(*args, "--force").output
    # Other settings give another result, so the video is extracted again without --force.
    assert "extracted 1 (ok 1" in cli(*args[:-1], "3").output
    store = prep.open_store(store_url)
    assert store.video("a")["n_frames"] == 3
    assert np.allclose(store.timestamps("a"), np.arange(0, 6, 2) / store.video("a")["fps"], atol=1e-3)
    assert prep.store.validate(store) == []


def test_manifest_selects_ids_and_reports_missing_ones(dataset, tmp_path, cli, store_url):
    manifest = write_manifest(tmp_path / "m.csv", [("signing", "train", "我想学习手语。"), ("ghost", "dev", "x")])
    result = cli("extract", dataset, "--store", store_url, "--manifest", manifest, "--max-frames", "3", "-q",
                 "--workers", "1")  # fmt: skip
    assert "1 manifest id(s) have no video: ghost" in result.output
    assert "7 video(s) not in the manifest were left out" in result.output
    store = prep.open_store(store_url)
    assert sorted(store.ids) == ["ghost", "signing"]
    assert store.video("signing")["split"] == "train" and store.video("signing")["status"] == "ok"
    assert store.video("ghost")["status"] == "pending"


def test_refine_face_and_a_store_of_another_layout(dataset, cli, store_url):
    video = dataset / "signing.mp4"
    cli("extract", video, "--store", store_url, "--refine-face", "--max-frames", "2", "-q", "--workers", "1")
    store = prep.open_store(store_url)
    assert store.pose("signing")[0].shape == (2, 553, 3)
    assert store.layout.name == "mediapipe-holistic-refined-face"
    result = cli("extract", video, "--store", store_url, "--max-frames", "2", "-q", expect=1)
    assert "holds 553-point poses" in result.output and "--refine-face" in result.output


def test_bad_arguments_create_nothing(tmp_path, cli, store_url):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(b"1")
    (videos / "a.webm").write_bytes(b"2")
    result = cli("extract", videos, "--store", store_url, expect=1)
    assert "'a' would be the id of 2 files" in result.output
    result = cli("extract", videos, "--store", store_url, "--workers", "2", "--scheduler", "tcp://h:1", expect=2)
    assert "--workers sizes the local cluster" in result.output
    assert not Path(store_url).exists()


def test_a_dask_cluster_of_worker_processes_writing_to_s3_gives_the_local_result(extracted, dataset, s3_url, tmp_path,
                                                                                    cli):  # fmt: skip
    """`--scheduler` against dask's own scheduler and workers, separate processes on loopback, and the store on
    S3: the same table and poses as the local run. Only frame_offset may differ: it follows the order in which
    results arrive."""
    with dask_cluster(tmp_path, workers=2) as address:
        result = cli("extract", dataset, "--store", s3_url, "--scheduler", address, "-q", expect=3)
        assert "found 8 video(s); extracted 8 (ok 3, no_person 1, failed 4)" in result.output
        with Client(address) as client:
            # Each worker made a MediaPipe graph: both extracted. (A lambda: dask workers cannot import this module.)
            graphs = client.run(lambda: len(importlib.import_module("prep.extract.run")._models))
            assert sorted(graphs.values()) == [1, 1]
            # The worker environment of docs/scaling.md took effect: one native thread, dask's malloc setting gone, no profiler.
            assert set(client.run(os.getenv, "OMP_NUM_THREADS").values()) == {"1"}
            assert set(client.run(os.getenv, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
            profiling = client.run(
                lambda: importlib.import_module("dask").config.get("distributed.worker.profile.enabled")
            )
            assert set(profiling.values()) == {False}
        again = cli("extract", dataset, "--store", s3_url, "--scheduler", address, "-q", expect=3)
        assert "nothing to extract: all 8 unchanged" in again.output

    local, remote = prep.open_store(extracted[0]), prep.open_store(s3_url)
    assert remote.ids == local.ids and remote.point_names == local.point_names
    for name in table_columns():
        if name != "frame_offset":
            np.testing.assert_array_equal(remote.column(name), local.column(name), err_msg=name)
    for video_id in ("signing", "phone/portrait", "small"):
        for ours, theirs in zip(remote.pose(video_id), local.pose(video_id), strict=True):
            np.testing.assert_array_equal(ours, theirs, err_msg=video_id)
        np.testing.assert_array_equal(remote.timestamps(video_id), local.timestamps(video_id))
    assert prep.store.validate(remote) == []


WORKER_SERVER_PROBE = """
import sys, click, psutil
from prep import forkserver
from prep.cli import main
started, real_start = [], forkserver.start
# Whether PyAV or dask were loaded when the server started: it should import MediaPipe while they load.
forkserver.start = lambda *a: (started.append("av" in sys.modules or "distributed" in sys.modules), real_start(*a))
try:
    main(sys.argv[1:], standalone_mode=False)
except click.ClickException as e:  # what the command tells the user, and its exit status 1 or 2
    print("error:", e.message)
print("started", started)
print("children", len(psutil.Process().children(recursive=True)))  # before it exits, when none can be an orphan yet
"""
EARLY_EXITS = {  # case: (options, a folder of frames instead of no videos at all, when the probe says it started)
    "no videos": ((), False, "started [False]"),  # before PyAV and dask load; "no videos" stops it
    "frames without --fps": ((), True, "started [False]"),  # a usage error stops it too
    "another cluster": (("--scheduler", "tcp://127.0.0.1:9"), False, "started []"),  # no local cluster
    "--help": (("--help",), False, "started []"),
}


@pytest.fixture(scope="module")
def early_exits(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, list]]:
    """`mmprep extract` ended before it extracts anything, each way of EARLY_EXITS, under WORKER_SERVER_PROBE in a
    session of its own: case -> what ``in_a_session`` returns."""
    out = {}
    for case, (extra, frames, _) in EARLY_EXITS.items():
        root = tmp_path_factory.mktemp("early")
        (root / "videos" / "clip").mkdir(parents=True)
        if frames:
            (root / "videos" / "clip" / "1.png").write_bytes(b"")
        command = [sys.executable, "-c", WORKER_SERVER_PROBE, "extract", str(root / "videos"), "--store",
                   str(root / "s.zarr"), *extra]  # fmt: skip
        out[case] = in_a_session(command)
    return out


@pytest.mark.parametrize("case", EARLY_EXITS)
def test_extract_starts_its_worker_server_first(early_exits, case):
    done, _ = early_exits[case]
    assert EARLY_EXITS[case][2] in done.stdout.splitlines(), done.stdout + done.stderr


@pytest.mark.parametrize("case", ["a run", *EARLY_EXITS])
def test_no_process_of_the_command_outlives_it(cli_run, early_exits, case):
    """Workers, the server they are forked from, multiprocessing's resource tracker: all gone (and reaped)."""
    if case == "a run":
        assert cli_run[3] == []
    else:
        done, left = early_exits[case]
        assert "children 0" in done.stdout.splitlines() and left == [], done.stdout + done.stderr
