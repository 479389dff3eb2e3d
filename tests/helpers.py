"""Small builders shared by the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from prep import VideoResult
from prep.layout import Layout


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
