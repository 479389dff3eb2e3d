"""Small builders shared by the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from prep import VideoResult
from prep.layout import Layout, holistic


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


# pose-format component -> ours (its x, y are pixels; its POSE_WORLD_LANDMARKS are not kept)
POSE_FORMAT_COMPONENTS = {
    "POSE_LANDMARKS": "POSE",
    "FACE_LANDMARKS": "FACE",
    "LEFT_HAND_LANDMARKS": "LEFT_HAND",
    "RIGHT_HAND_LANDMARKS": "RIGHT_HAND",
}


def pose_file_result(path: Path, video_id: str) -> tuple[VideoResult, Layout]:
    """A real MediaPipe ``.pose`` file (read with pose-format) as an ok extraction result, with its layout."""
    from pose_format import Pose

    pose = Pose.read(path.read_bytes())
    width, height = pose.header.dimensions.width, pose.header.dimensions.height
    data, confidence = pose.body.data.data[:, 0], pose.body.confidence[:, 0]
    theirs, start = {}, 0
    for component in pose.header.components:
        theirs[component.name] = slice(start, start + len(component.points))
        start += len(component.points)
    layout = holistic(refine_face=theirs["FACE_LANDMARKS"].stop - theirs["FACE_LANDMARKS"].start == 478)
    n = len(data)
    xyz = np.zeros((n, layout.n_points, 3), dtype=np.float32)
    conf = np.zeros((n, layout.n_points), dtype=np.float32)
    for name, ours in POSE_FORMAT_COMPONENTS.items():
        xyz[:, layout.component_slice(ours)] = data[:, theirs[name]] / np.array([width, height, 1], dtype=np.float32)
        conf[:, layout.component_slice(ours)] = confidence[:, theirs[name]]
    xyz[conf == 0] = 0
    result = VideoResult(
        id=video_id, status="ok", n_frames=n, fps=float(pose.body.fps), width=width, height=height,
        source=str(path), fingerprint="pose-file", xyz=xyz, conf=conf, time=np.arange(n) / pose.body.fps,
    )  # fmt: skip
    return result, layout
