"""Extractions that do not end well: kill -9, Ctrl-C, a worker process that crashes. Real processes, real signals.

After each, the store is valid, and the next run finishes the job with the result an uninterrupted run gives
(every copy of the sample holds exactly MediaPipe's landmarks of its first FRAMES frames).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from helpers import is_stopped

import prep
from prep.errors import StoreError
from prep.extract.run import CRASH_ON_ENV, STOP_ON_ENV
from prep.store import validate

pytestmark = pytest.mark.mediapipe  # every test here extracts with MediaPipe


MMPREP = str(Path(sys.executable).with_name("mmprep"))
FRAMES = 12
COPIES = 4
STOP_AT = "copy1.mp4"  # the worker stops itself here: copy0 is committed, copy1 to copy3 are not


@pytest.fixture(scope="module")
def copies(tmp_path_factory, sample_video) -> Path:
    root = tmp_path_factory.mktemp("copies")
    for i in range(COPIES):
        shutil.copy(sample_video, root / f"copy{i}.mp4")
    return root


def start_extract(videos: Path, url: str, *extra: str) -> subprocess.Popen:
    """`mmprep extract` in its own process group, as a shell would start it; its worker stops itself (SIGSTOP)
    when asked to extract STOP_AT."""
    command = [MMPREP, "extract", str(videos), "--store", url, "-q", "--max-frames", str(FRAMES), *extra]
    env = {**os.environ, STOP_ON_ENV: STOP_AT}
    return subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip


def wait_until_stopped_mid_run(url: str, process: subprocess.Popen, timeout: float = 180) -> list[psutil.Process]:
    """Wait until the worker has stopped itself on STOP_AT and the video before it is committed; returns the
    run's child processes (the workers among them).

    With one worker the videos go in order (equal sizes), so from then on the run cannot move: copy0 is
    committed, copy1 is in flight and the others are waiting. The interruption lands at that point, never
    after the last commit (which let `mmprep extract` finish first and exit 0 under load)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        children = psutil.Process(process.pid).children(recursive=True)
        if any(is_stopped(c) for c in children) and committed(url) == ["copy0"]:
            return children
        time.sleep(0.05)
    raise AssertionError("the worker did not stop at copy1 in time")


def committed(url: str) -> list[str]:
    try:
        store = prep.open_store(url)
    except StoreError:  # not created yet
        return []
    return [i for i, status in zip(store.ids, store.column("status"), strict=True) if status != "pending"]


def resume(group: int) -> None:
    """SIGCONT to the run's process group: the stopped worker goes on, and sees the signals sent meanwhile."""
    with contextlib.suppress(ProcessLookupError):  # every process of the group is gone already
        os.killpg(group, signal.SIGCONT)


def assert_gone(processes: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(processes, timeout=30)
    for process in alive:  # don't leave them behind, but fail: nothing may outlive the run
        process.kill()
    assert not alive, f"processes outlived the run: {alive}"


def assert_finished_like_an_uninterrupted_run(url: str, reference) -> None:
    store = prep.open_store(url)
    assert validate(store) == []
    assert sorted(store.ids) == [f"copy{i}" for i in range(COPIES)]
    for video_id in store.ids:
        xyz, conf = store.pose(video_id)
        assert np.array_equal(xyz, reference.xyz[:FRAMES]) and np.array_equal(conf, reference.conf[:FRAMES])


def interrupted_state(url: str) -> None:
    store = prep.open_store(url)
    assert validate(store) == []
    assert committed(url) == ["copy0"]


def test_kill_9_then_rerun_takes_the_lock_over(copies, tmp_path, sample_landmarks, cli):
    url = str(tmp_path / "killed.zarr")
    process = start_extract(copies, url, "--workers", "1")
    workers = wait_until_stopped_mid_run(url, process)
    process.kill()
    process.wait()
    resume(process.pid)
    assert_gone(workers)  # a worker exits when the process that started it dies
    interrupted_state(url)

    result = cli("extract", copies, "--store", url, "-q", "--max-frames", FRAMES)
    assert f"took over the writer lock of pid {process.pid} on host" in result.output
    assert f"extracted {COPIES - 1} (ok {COPIES - 1}" in result.output and "skipped 1 unchanged" in result.output
    assert_finished_like_an_uninterrupted_run(url, sample_landmarks)


def test_ctrl_c_releases_the_lock_and_stops_the_workers(
    copies, tmp_path, sample_landmarks, cli, ctrl_c_reaches_commands
):
    url = str(tmp_path / "interrupted.zarr")
    process = start_extract(copies, url, "--workers", "1")
    workers = wait_until_stopped_mid_run(url, process)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    resume(process.pid)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: everything committed so far is kept" in stderr
    assert not Path(url + ".lock").exists()
    assert_gone(workers)
    interrupted_state(url)

    result = cli("extract", copies, "--store", url, "-q", "--max-frames", FRAMES)
    assert "took over" not in result.output and "skipped 1 unchanged" in result.output
    assert_finished_like_an_uninterrupted_run(url, sample_landmarks)


def test_a_crashing_worker_costs_only_its_video(tmp_path, sample_video, cli, store_url):
    """The fault-injection hook makes a worker die by SIGSEGV on crash.mp4, as a crashing MediaPipe would."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("crash.mp4", "fine.mp4"):
        shutil.copy(sample_video, videos / name)
    command = [MMPREP, "extract", str(videos), "--store", store_url, "-q", "--max-frames", "3"]
    crashing = subprocess.run(command, env={**os.environ, CRASH_ON_ENV: "crash.mp4"}, capture_output=True, text=True)
    assert crashing.returncode == 3, crashing.stderr
    assert "crash: the worker process died 2 times while extracting this video" in crashing.stderr
    store = prep.open_store(store_url)
    assert store.video("fine")["status"] == "ok" and store.video("fine")["n_frames"] == 3
    assert store.video("crash")["status"] == "failed" and store.video("crash")["fingerprint"] == ""
    assert validate(store) == []

    # The crash does not recur: the next run tries the video again.
    result = cli("extract", videos, "--store", store_url, "-q", "--max-frames", "3")
    assert "extracted 1 (ok 1" in result.output and "skipped 1 unchanged" in result.output
