"""Small builders shared by the tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from fractions import Fraction
from pathlib import Path

import numpy as np
import psutil

from prep import VideoResult
from prep.layout import Layout

FIXTURES = Path(__file__).parent / "fixtures"  # real sample data: see fixtures/NOTICE.md
REPO = Path(__file__).parent.parent

# Sentences the tiny models' vocabulary is trained on: every character of the tests' descriptions is among them.
TINY_SENTENCES = [
    "一位女士在室内打手语。",
    "他穿着蓝色的衬衫，慢慢地打手语。",
    "一个男人在公园里向镜头挥手。",
    "我想学习手语。今天天气很好。",
    "A man signs slowly, facing the camera.",
    "The woman waves both hands above her head.",
    "Two signers talk in a bright room.",
]

# A tiny run for the evaluation tests: a few steps, gated fusion open from the start (gate bias 0), so that text, its
# placeholders and the inference modes all change the output.
FEW_STEPS = {
    "pose_positions": False, "augment": False, "ctc_weight": 0.0, "tiny_max_piece_length": 2, "word_dropout": 0.0,
}  # fmt: skip
TINY_RUN = {
    "backbone": "tiny", "tiny_d_model": 32, "tiny_layers": 1, "tiny_heads": 2, "tiny_vocab_size": 200,
    "pose_stride": 4, "batch_size": 8, "lr": 5e-4, "fusion": "gate", "gate_bias": 0.0, "max_target_length": 16,
    "max_steps": 4, "eval_max_videos": 4, "log_every": 1,
    # A few steps only: the options that make a model learn over 100 epochs (docs/missing-modality.md) leave a
    # 4-step model writing empty outputs, and the tests of this run need outputs that change with the text.
    **FEW_STEPS,
}  # fmt: skip


# The run of tests/inference (video_run; trained in the core environment too, test_environments.py). 29 frames
# after the stride: training's frame sampling matters too. Trained to write the train videos' sentences, which
# differ only by the description (the poses are the same): with text the model writes one, without it the other,
# so that scenario A and B differ and text must reach the model to match eval.
# Token fusion with the description's per-token features: translate must encode them as encode-text did.
# Trained long enough for the defaults (TINY_RUN without FEW_STEPS): translate must rebuild that model.
VIDEO_RUN = {
    **{k: v for k, v in TINY_RUN.items() if k not in FEW_STEPS},
    "fusion": "token",
    "max_frames": 20,
    "max_steps": 60,
    "epochs": 60,
    "lr": 3e-3,
    "text_dropout": "none",
}


def train_args(store: str, run: Path) -> list[str]:
    """`mmprep train`'s arguments for the tiny run on the sample's store (tests/inference/conftest.py)."""
    return ["train", "--store", store, "--out", str(run), "-q", "--text-tokens",
            *(f"--{k.replace('_', '-')}={v}" for k, v in VIDEO_RUN.items())]  # fmt: skip


def write_manifest(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("id,split,translation\n" + "".join(f"{i},{s},{t}\n" for i, s, t in rows), encoding="utf-8")
    return path


def snapshot(path: str) -> dict[str, bytes]:
    """Every file of a store, to prove a refused command changed nothing."""
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fake_result(video_id: str, n_frames: int, n_points: int = 543, seed: int = 0) -> VideoResult:
    """An ok extraction result with random but valid values (for store tests that need no MediaPipe)."""
    rng = np.random.default_rng(seed)
    return VideoResult(
        id=video_id,
        status="ok",
        n_frames=n_frames,
        fps=25.0,
        width=540,
        height=720,
        source=f"/videos/{video_id}.mp4",
        fingerprint=f"fp-{seed}",
        xyz=rng.random((n_frames, n_points, 3), dtype=np.float32),
        conf=(rng.random((n_frames, n_points)) > 0.3).astype(np.float32),
        time=np.arange(n_frames) / 25.0,
    )


HOLD = """
import sys, time, prep
store = prep.open_store(sys.argv[1], mode="a")
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(url: str) -> subprocess.Popen:
    """A second process that holds the writer lock of the store at ``url`` until killed (kill and wait it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def pose_file_result(path: Path, video_id: str) -> tuple[VideoResult, Layout]:
    """A real MediaPipe ``.pose`` file as an ok extraction result, with its layout (read by prep.interop)."""
    from prep.interop.pose_format import read_pose, to_store

    pose = read_pose(path.read_bytes())
    layout, xyz, conf, _ = to_store(pose)
    n = len(xyz)
    result = VideoResult(
        id=video_id, status="ok", n_frames=n, fps=float(pose.fps), width=pose.width, height=pose.height,
        source=str(path), fingerprint="pose-file", xyz=xyz, conf=conf, time=np.arange(n) / pose.fps,
    )  # fmt: skip
    return result, layout


# ---------------------------------------------------------------------------------------------- S3
def use_local_s3(monkeypatch, endpoint: str) -> None:
    """Point S3 at the local server ``endpoint`` through the AWS_* variables alone, as a user configures it."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")


def new_bucket() -> str:
    """A fresh bucket on the S3 server the AWS_* variables point at."""
    import s3fs

    bucket = f"test-{uuid.uuid4().hex[:16]}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return bucket


def closed_port() -> socket.socket:
    """A loopback socket bound but never listening: connections to its port are refused at once (close it)."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    return closed


# ---------------------------------------------------------------------------------------------- processes
# What docs/scaling.md gives dask's own command line: one native thread per worker process, no
# MALLOC_TRIM_THRESHOLD_ (dask's default costs MediaPipe CPU), quiet monitoring, one retry after a worker crash.
def dask_environment() -> dict[str, str]:
    from prep.cluster import QUIET_MONITORING
    from prep.extract.workers import THREAD_LIMITS

    return {
        **THREAD_LIMITS,
        **{
            "DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
            for key, value in QUIET_MONITORING.items()
        },
        "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": "{'MALLOC_TRIM_THRESHOLD_': None}",
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
    }


@contextmanager
def dask_cluster(directory: Path, workers: int = 2) -> Iterator[str]:
    """A dask scheduler and ``workers`` single-threaded workers on 127.0.0.1, each a separate process started
    by dask's own command line in ``directory`` (not the test's working directory); yields the scheduler's
    address once every worker has joined. Every process is stopped on exit, also when the test fails."""
    from distributed import Client

    env = {**os.environ, **dask_environment()}
    address_file = directory / "scheduler.json"
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        with open(directory / f"{name}.log", "wb") as log:
            started.append(subprocess.Popen([sys.executable, "-m", f"distributed.cli.dask_{name}", *args], env=env,
                                            cwd=directory, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))  # fmt: skip

    def logs() -> str:
        return "".join(f"\n--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(directory.glob("*.log")))

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
              str(address_file))  # fmt: skip
        deadline, address = time.monotonic() + 60, None
        while address is None:
            assert started[0].poll() is None and time.monotonic() < deadline, f"no dask scheduler{logs()}"
            with suppress(FileNotFoundError, json.JSONDecodeError):  # not written yet, or not whole yet
                address = json.loads(address_file.read_text())["address"]
            time.sleep(0.1)
        start("worker", address, "--nworkers", str(workers), "--nthreads", "1", "--host", "127.0.0.1",
              "--no-dashboard", "--local-directory", str(directory))  # fmt: skip
        with Client(address, timeout="30s") as client:
            try:
                client.wait_for_workers(workers, timeout=120)
            except TimeoutError:
                raise AssertionError(f"the dask workers did not join{logs()}") from None
        yield address
    finally:
        for process in reversed(started):
            stop_process_group(process)


def is_stopped(process: psutil.Process) -> bool:
    """Whether ``process`` is stopped (SIGSTOP); False once it is gone."""
    try:
        return process.status() == psutil.STATUS_STOPPED
    except psutil.NoSuchProcess:  # a short-lived helper (importing mediapipe runs a compiler to find a library)
        return False


def stop_process_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM to the process group that ``process`` leads (started with ``start_new_session=True``: it and
    every child it started), then SIGKILL to whatever of that group is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_s)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# ---------------------------------------------------------------------------------------------- test videos
def decode_rgb(path: Path) -> list[np.ndarray]:
    """Every frame of a video as stored (no rotation applied), RGB."""
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def write_video(path: Path, frames: list[np.ndarray], fps: int = 30, rotation: int = 0) -> Path:
    """Encode RGB frames (even width and height) as H.264; ``rotation`` is the display rotation tag
    (counter-clockwise degrees, as phones write it: -90 for a portrait video stored landscape)."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


def remux_rotated(source: Path, path: Path, rotation: int) -> Path:
    """The same compressed frames as ``source``, tagged with a display rotation (no re-encoding)."""
    import av

    with av.open(str(source)) as src, av.open(str(path), "w") as dst:
        video = src.streams.video[0]
        out = dst.add_stream_from_template(video)
        out.set_display_rotation(rotation)
        for packet in src.demux(video):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    return path


def write_zero_frame_video(path: Path) -> Path:
    """An AVI with a video stream and no frames (MP4 and Matroska drop an empty stream)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    return path


def write_frames(folder: Path, frames: list[np.ndarray], name: str = "{:06d}.jpg", start: int = 0) -> Path:
    """Each RGB frame as one image file ``name.format(start + i)`` in ``folder``, encoded by PyAV (FFmpeg): PNG
    for a ``.png`` name (lossless), JPEG otherwise, as corpora ship their sentences' frames."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(frames):
        path = folder / name.format(start + i)
        png = path.suffix.lower() == ".png"
        codec = av.CodecContext.create("png" if png else "mjpeg", "w")
        codec.width, codec.height = rgb.shape[1], rgb.shape[0]
        codec.pix_fmt = "rgb24" if png else "yuvj444p"
        codec.time_base = Fraction(1, 25)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format=codec.pix_fmt)
        path.write_bytes(b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)]))
    return folder
