"""Benchmark `mmprep extract` against the CPU limit of MediaPipe itself and against pose-format's extractor.

On N copies of tests/fixtures/signing.mp4, in one run:

- limit: a raw loop in one process (PyAV decoding, MediaPipe Holistic in video mode, reset between videos) over
  every frame. Its CPU seconds per frame (all its threads) x frames / cores is the least wall time any
  extractor can take on this machine: the limit's throughput is cores / CPU-per-frame.
- mmprep extract with default settings (one worker process per core), run as a user runs it (the CLI, cluster
  start-up and store writes included), and with 1 and 2 workers.
- the peer: pose-format's `videos_to_poses --num-workers <cores>`, when installed (a dev dependency).

Prints a Markdown table: wall time, frames/s, share of the limit's throughput and speed relative to the peer.

With --frames, only decoding (a few seconds, no MediaPipe): the sample's frames as folders of JPEG and PNG
frames (what CSL-Daily and PHOENIX-2014T ship) read by mmprep's frame-folder reader, per frame, against
decoding the same frames from an H.264 mp4 with mmprep's video reader (the baseline, measured in the same run):
at the sample's 540x720 and at PHOENIX's 210x260.

    python scripts/bench_extract.py --copies 20
    python scripts/bench_extract.py --frames
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import dask.system
import psutil

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "signing.mp4"
BIN = Path(sys.executable).parent


def make_copies(folder: Path, copies: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(copies):
        shutil.copy(SAMPLE, folder / f"copy{i:03d}.mp4")
    return folder


def raw_loop(videos: list[Path]) -> tuple[int, float, float]:
    """(frames, CPU seconds, wall seconds) of decoding and running MediaPipe on every frame, in this process."""
    from mediapipe.python.solutions.holistic import Holistic

    holistic = Holistic(static_image_mode=False, model_complexity=1)
    frames = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for path in videos:
        holistic.reset()
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                holistic.process(frame.to_ndarray(format="rgb24"))
                frames += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    holistic.close()
    return frames, cpu, wall


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and every process it started).

    CPU is sampled from the process tree every 0.1 s: forked workers are not reaped by the command itself, so
    the kernel's counts for children would miss them. A process's last 0.1 s before it exits is not counted.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu: dict[int, float] = {}
    root = psutil.Process(process.pid)
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
        time.sleep(0.1)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return time.perf_counter() - started, sum(cpu.values())


def decode_ms(reader_factory, repeats: int) -> float:
    """Best-of-``repeats`` CPU milliseconds per frame of decoding every frame (one thread, this process)."""
    best = float("inf")
    for _ in range(repeats):
        cpu, frames = time.process_time(), 0
        with reader_factory() as reader:
            for _frame in reader.frames():
                frames += 1
        best = min(best, (time.process_time() - cpu) / frames * 1000)
    return best


def bench_frame_folders(out: Path, repeats: int = 5) -> None:
    """Frame-folder decoding per frame vs the same frames' mp4 (mmprep's readers on both sides)."""
    import cv2
    import numpy as np

    from prep.extract.decode import VideoReader
    from prep.extract.frame_folder import FolderReader

    with VideoReader(str(SAMPLE)) as reader:
        frames = [f.rgb for f in reader.frames()]
    sizes = {"540x720 (the sample)": frames, "210x260 (PHOENIX-2014T)": [
        np.ascontiguousarray(f[::2, ::2][50:310, 30:240]) for f in frames]}  # fmt: skip
    print(f"decoding {len(frames)} frames, best of {repeats}, CPU ms per frame (one thread)\n")
    print("| frames | mp4 (H.264, baseline) | folder | folder ms | folder / mp4 |\n|---|---|---|---|---|")
    for label, rgb in sizes.items():
        folder = out / label.split()[0]
        folder.mkdir(parents=True)
        video = folder / "clip.mp4"
        with av.open(str(video), "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = rgb[0].shape[1], rgb[0].shape[0], "yuv420p"
            for frame in rgb:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
        baseline = decode_ms(lambda v=video: VideoReader(str(v)), repeats)
        for suffix in ("jpg", "png"):
            images = folder / suffix
            images.mkdir()
            for i, frame in enumerate(rgb):
                cv2.imwrite(str(images / f"{i:06d}.{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            ms = decode_ms(lambda d=images: FolderReader(str(d), fps=30), repeats)
            print(f"| {label} | {baseline:.2f} ms | {suffix.upper()} | {ms:.2f} | {ms / baseline:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20, help="copies of the 58-frame sample (default 20)")
    parser.add_argument("--frames", action="store_true", help="only frame-folder vs mp4 decoding (seconds)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "extract", help="scratch folder")
    args = parser.parse_args()
    cores = dask.system.CPU_COUNT
    shutil.rmtree(args.out, ignore_errors=True)
    if args.frames:
        bench_frame_folders(args.out)
        return
    videos = make_copies(args.out / "videos", args.copies)

    frames, cpu, wall = raw_loop(sorted(videos.iterdir()))
    limit = frames * (cpu / frames) / cores
    print(f"{args.copies} copies, {frames} frames, {cores} cores")
    print(f"raw MediaPipe loop: {cpu / frames * 1000:.1f} ms CPU per frame, {wall:.1f} s wall, "
          f"{cpu / wall:.2f} cores busy; limit {limit:.1f} s = {frames / limit:.1f} frames/s")  # fmt: skip

    rows = [(f"limit: {frames} frames x CPU per frame / {cores} cores", (limit, cpu))]
    for workers in [None] + [n for n in (1, 2) if n != cores]:  # None: the default, one worker per core
        store = args.out / f"store-{workers or 'default'}.zarr"
        command = [str(BIN / "mmprep"), "extract", str(videos), "--store", str(store), "-q"]
        name = (
            f"mmprep extract (default: {cores} workers)" if workers is None else f"mmprep extract --workers {workers}"
        )
        rows.append((name, timed(command + ([] if workers is None else ["--workers", str(workers)]))))
    peer = BIN / "videos_to_poses"
    peer_seconds = None
    if peer.exists():
        peer_videos = args.out / "peer-videos"
        shutil.copytree(videos, peer_videos)
        run = timed([str(peer), "--format", "mediapipe", "--directory", str(peer_videos), "--num-workers", str(cores)])
        peer_seconds = run[0]
        rows.append((f"peer: pose-format videos_to_poses --num-workers {cores}", run))
    else:
        print("pose-format is not installed (pip install -e '.[dev]'): no peer row")

    # CPU ms per frame counts start-up and everything else a run does; unlike wall time, it does not depend on
    # what else the machine is running.
    print("\n| run | wall s | frames/s | of the limit | vs peer | CPU ms per frame |\n|---|---|---|---|---|---|")
    for name, (seconds, cpu_seconds) in rows:
        versus = f"{peer_seconds / seconds:.2f}x" if peer_seconds else "-"
        print(f"| {name} | {seconds:.1f} | {frames / seconds:.1f} | {limit / seconds:.2f} | {versus} | "
              f"{cpu_seconds / frames * 1000:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
