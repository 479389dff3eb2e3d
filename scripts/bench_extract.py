"""Benchmark `mmprep extract` against the CPU limit of MediaPipe itself and against pose-format's extractor.

On N copies of tests/fixtures/signing.mp4, in one run:

- limit: a raw loop in one process (PyAV decoding, MediaPipe Holistic in video mode, reset between videos) over
  every frame. Its CPU seconds per frame (all its threads) x frames / cores is the least wall time any
  extractor can take on this machine: the limit's throughput is cores / CPU-per-frame.
- mmprep extract with default settings (one worker process per core), run as a user runs it (the CLI, cluster
  start-up and store writes included), and with --workers N for each N of --workers.
- the peer: pose-format's `videos_to_poses --num-workers <cores>`, when installed (a dev dependency).

For each job size (default 12 and 60 copies), the programs run in turn, --rounds times, and a Markdown table
gives the medians: wall time, frames/s, share of the limit's throughput and speed relative to the peer
measured in the same rounds. On a busy machine compare the ratios, not the seconds.

    python scripts/bench_extract.py                      # 12 and 60 copies, 3 rounds
    python scripts/bench_extract.py --copies 12 --rounds 2 --workers 3
    python scripts/bench_extract.py --frames             # only decoding: frame folders against the mp4

With --frames, only decoding (a few seconds, no MediaPipe): the sample's frames as folders of JPEG and PNG
frames (what CSL-Daily and PHOENIX-2014T ship) read by mmprep's frame-folder reader, per frame, against
decoding the same frames from an H.264 mp4 with mmprep's video reader (the baseline, measured in the same run):
at the sample's 540x720 and at PHOENIX's 210x260.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
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
SAMPLE_FRAMES = 58
LIMIT_COPIES = 6  # the raw loop's CPU per frame does not depend on the job size


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


class _ToNdarrayReader:
    """Decoding as PyAV's own examples do, a new RGB converter for every frame: the baseline of mmprep's reader."""

    def __init__(self, path: str):
        self._container = av.open(path)
        self._container.streams.video[0].codec_context.thread_count = 1

    def frames(self):
        for frame in self._container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._container.close()


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
    reader_ms = decode_ms(lambda: VideoReader(str(SAMPLE)), repeats)
    per_frame_ms = decode_ms(lambda: _ToNdarrayReader(str(SAMPLE)), repeats)
    print(
        f"the sample's mp4: mmprep's reader {reader_ms:.2f} ms, PyAV's frame.to_ndarray(format='rgb24') for "
        f"every frame (baseline) {per_frame_ms:.2f} ms: {per_frame_ms / reader_ms:.2f}x faster\n"
    )
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


def mmprep(videos: Path, store: Path, workers: int | None) -> list[str]:
    shutil.rmtree(store, ignore_errors=True)
    extra = [] if workers is None else ["--workers", str(workers)]
    return [str(BIN / "mmprep"), "extract", str(videos), "--store", str(store), "-q", *extra]


def peer(videos: Path, scratch: Path, cores: int) -> list[str]:
    shutil.rmtree(scratch, ignore_errors=True)  # it skips videos that have a .pose file beside them
    shutil.copytree(videos, scratch)
    return [str(BIN / "videos_to_poses"), "--format", "mediapipe", "--directory", str(scratch),
            "--num-workers", str(cores)]  # fmt: skip


def job(args, copies: int, cores: int, cpu_per_frame: float) -> None:
    """One job size: every run in turn, ``args.rounds`` times, then the medians."""
    videos = make_copies(args.out / f"videos-{copies}", copies)
    frames = copies * SAMPLE_FRAMES
    limit = frames * cpu_per_frame / cores
    runs = {f"mmprep extract (default: {cores} workers)": lambda: mmprep(videos, args.out / "store.zarr", None)}
    for workers in args.workers:
        runs[f"mmprep extract --workers {workers}"] = lambda w=workers: mmprep(videos, args.out / "store.zarr", w)
    has_peer = (BIN / "videos_to_poses").exists()
    if has_peer:
        runs[f"peer: pose-format videos_to_poses --num-workers {cores}"] = lambda: peer(
            videos, args.out / "peer-videos", cores
        )
    else:
        print("pose-format is not installed (pip install -e '.[dev]'): no peer row")
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, command in runs.items():
            measured[name].append(timed(command()))
    rows = {
        name: (statistics.median(w for w, _ in m), statistics.median(c for _, c in m)) for name, m in measured.items()
    }
    peer_seconds = rows[list(runs)[-1]][0] if has_peer else None

    # CPU ms per frame counts start-up and everything else a run does; it depends less than wall time on what
    # else the machine is running.
    print(f"\n{copies} copies, {frames} frames, {cores} cores; medians of {args.rounds} rounds run in turn")
    print("| run | wall s | frames/s | of the limit | vs peer | CPU ms per frame |\n|---|---|---|---|---|---|")
    limit_row = (f"limit: {frames} frames x CPU per frame / {cores} cores", (limit, frames * cpu_per_frame))
    for name, (seconds, cpu_seconds) in [limit_row, *rows.items()]:
        versus = f"{peer_seconds / seconds:.2f}x" if peer_seconds else "-"
        print(f"| {name} | {seconds:.1f} | {frames / seconds:.1f} | {limit / seconds:.2f} | {versus} | "
              f"{cpu_seconds / frames * 1000:.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, nargs="+", default=[12, 60],
                        help="job sizes: copies of the 58-frame sample (default: 12 60)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="runs of each program per job size (default 3)")
    parser.add_argument("--workers", type=int, nargs="*", default=[], metavar="N",
                        help="also mmprep extract --workers N, for each N (e.g. cores + 1)")  # fmt: skip
    parser.add_argument("--frames", action="store_true", help="only frame-folder vs mp4 decoding (seconds)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "extract", help="scratch folder")
    args = parser.parse_args()
    cores = dask.system.CPU_COUNT
    shutil.rmtree(args.out, ignore_errors=True)
    if args.frames:
        bench_frame_folders(args.out)
        return
    sample = make_copies(args.out / "limit", LIMIT_COPIES)
    frames, cpu, wall = raw_loop(sorted(sample.iterdir()))
    print(f"raw MediaPipe loop over {LIMIT_COPIES} copies: {cpu / frames * 1000:.1f} ms CPU per frame, {wall:.1f} s "
          f"wall, {cpu / wall:.2f} cores busy; the limit is {cores / (cpu / frames):.1f} frames/s")  # fmt: skip
    for copies in args.copies:
        job(args, copies, cores, cpu / frames)


if __name__ == "__main__":
    main()
