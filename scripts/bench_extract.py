"""Benchmark `mmprep extract` against the CPU limit of MediaPipe itself and against pose-format's extractor.

On N copies of tests/fixtures/signing.mp4, in one run:

- limit: a raw loop in one process (PyAV decoding, MediaPipe Holistic in video mode, reset between videos) over
  every frame. Its CPU seconds per frame (all its threads) x frames / cores is the least wall time any
  extractor can take on this machine: the limit's throughput is cores / CPU-per-frame.
- mmprep extract with default settings (one worker process per core), run as a user runs it (the CLI, cluster
  start-up and store writes included), and with 1 and 2 workers.
- the peer: pose-format's `videos_to_poses --num-workers <cores>`, when installed (a dev dependency).

Prints a Markdown table: wall time, frames/s, share of the limit's throughput and speed relative to the peer.

    python scripts/bench_extract.py --copies 20
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=20, help="copies of the 58-frame sample (default 20)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "extract", help="scratch folder")
    args = parser.parse_args()
    cores = dask.system.CPU_COUNT
    shutil.rmtree(args.out, ignore_errors=True)
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
