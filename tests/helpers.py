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
