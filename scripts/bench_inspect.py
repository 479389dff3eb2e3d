"""Benchmark `mmprep inspect` on a large store against the time extraction takes for the same frames.

In one run:

- the baseline: `mmprep extract` (default settings) on --copies copies of tests/fixtures/signing.mp4, as a user
  runs it; its frames per second give extraction's time for any number of frames on this machine. Needs the
  `mediapipe` extra; without it give --extraction-fps (docs/benchmarks.md has measured rates).
- `mmprep inspect` (default options: the worst 12 videos get strips, here on a plain background: synthetic
  videos have no source) on a store of --videos synthetic videos (`mmprep synth`: 50-300 frames each at 25 fps,
  as long as CSL-Daily's), and on the extraction's store, whose strips are drawn over the decoded video;
- `mmprep info` on the large store, against `mmprep info --json` (the same summary without the quality line
  that runs inspect's measurements).

Prints a Markdown table; the ratio is extraction's time for the large store's frames over inspect's wall time.

    python scripts/bench_inspect.py                          # 2,000 videos, 12 copies
    python scripts/bench_inspect.py --videos 500 --extraction-fps 31
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import prep

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "signing.mp4"


def mmprep(*args) -> float:
    """Wall seconds of one `mmprep` command (this interpreter, this checkout)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "prep", *map(str, args)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
    return time.perf_counter() - started


def frames(store: Path) -> int:
    with prep.open_store(str(store)) as opened:
        return int(opened.column("n_frames")[opened.column("status") == "ok"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=2000, help="synthetic videos in the large store")
    parser.add_argument("--copies", type=int, default=12, help="copies of the sample extracted for the baseline")
    parser.add_argument("--extraction-fps", type=float, help="skip extracting: extraction's frames/s, measured before")
    parser.add_argument("--work", type=Path, help="keep the stores and reports here [default: a temporary folder]")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-inspect-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        real = work / "real.zarr"
        if args.extraction_fps:
            extraction_fps = args.extraction_fps
            rows.append(("extraction (given)", "", "", f"{extraction_fps:.1f}", ""))
        else:
            videos = work / "videos"
            videos.mkdir(exist_ok=True)
            for i in range(args.copies):
                shutil.copy(SAMPLE, videos / f"copy{i:03d}.mp4")
            seconds = mmprep("extract", videos, "--store", real, "-q")
            extraction_fps = frames(real) / seconds
            rows.append((f"mmprep extract, {args.copies} copies of the sample (baseline)", f"{frames(real):,}",
                         f"{seconds:.1f}", f"{extraction_fps:.1f}", "1x"))  # fmt: skip
        large = work / "synth.zarr"
        mmprep("synth", large, "--videos", args.videos)
        total = frames(large)
        extraction = total / extraction_fps
        rows.append(("extraction of the large store's frames, at that rate", f"{total:,}", f"{extraction:.0f}",
                     f"{extraction_fps:.1f}", "1x"))  # fmt: skip
        seconds = mmprep("inspect", "--store", large, "--out", work / "inspect-synth", "-q")
        rows.append((f"mmprep inspect, {args.videos:,} synthetic videos", f"{total:,}", f"{seconds:.1f}",
                     f"{total / seconds:,.0f}", f"{extraction / seconds:,.0f}x faster"))  # fmt: skip
        if real.exists():
            seconds = mmprep("inspect", "--store", real, "--out", work / "inspect-real", "-q")
            rows.append((f"mmprep inspect, the {args.copies} extracted copies (strips over the video)",
                         f"{frames(real):,}", f"{seconds:.1f}", f"{frames(real) / seconds:,.0f}",
                         f"{frames(real) / extraction_fps / seconds:,.0f}x faster"))  # fmt: skip
        plain, quality = mmprep("info", "--json", "--store", large), mmprep("info", "--store", large)
        rows.append(("mmprep info --json, large store (no quality line)", "", f"{plain:.1f}", "", ""))
        rows.append(("mmprep info, large store (with the quality line)", f"{total:,}", f"{quality:.1f}", "", ""))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("| run | frames | wall s | frames/s | vs extraction |\n|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
