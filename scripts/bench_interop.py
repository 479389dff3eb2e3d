"""Import/export throughput: mmprep's .pose reader against pose-format's own (the baseline), and frames per
second through `import` and both `export` formats on a local store.

The files are the real 586-point sample (tests/fixtures/pose) repeated to --frames frames, --files times.

    python scripts/bench_interop.py --files 20 --frames 300
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from pose_format import Pose

import prep
from prep.interop import export_poses, import_poses
from prep.interop.pose_format import read_pose, write_pose

SAMPLE = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pose" / "7731febd6afbbe90f806a4434c282016.pose"
)


def make_files(folder: Path, files: int, frames: int) -> list[Path]:
    pose = read_pose(SAMPLE.read_bytes())
    repeat = -(-frames // pose.data.shape[0])
    pose.data = np.tile(pose.data, (repeat, 1, 1, 1))[:frames]
    pose.confidence = np.tile(pose.confidence, (repeat, 1, 1))[:frames]
    content = write_pose(pose)
    paths = []
    for i in range(files):
        path = folder / f"v{i:04d}.pose"
        path.write_bytes(content)
        paths.append(path)
    return paths


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    total = args.files * args.frames

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "poses").mkdir()
        paths = make_files(tmp / "poses", args.files, args.frames)
        contents = [p.read_bytes() for p in paths]
        baseline = timed(lambda: [Pose.read(c) for c in contents])
        ours = timed(lambda: [read_pose(c) for c in contents])
        with prep.open_store(str(tmp / "s.zarr"), mode="a") as store:
            imported = timed(lambda: import_poses(store, tmp / "poses"))
        store = prep.open_store(str(tmp / "s.zarr"))
        h5 = timed(lambda: export_poses(store, "h5", tmp / "x.h5"))
        pose = timed(lambda: export_poses(store, "pose", tmp / "out"))

    print(f"{args.files} files x {args.frames} frames, 586 points (553 kept)")
    print(f"{'step':<34}{'seconds':>9}{'frames/s':>12}{'vs baseline':>13}")
    rows = [
        ("parse: pose-format Pose.read", baseline, 1.0),
        ("parse: mmprep read_pose", ours, baseline / ours),
        ("mmprep import (parse+commit)", imported, None),
        ("mmprep export --format h5", h5, None),
        ("mmprep export --format pose", pose, None),
    ]
    for name, seconds, ratio in rows:
        print(f"{name:<34}{seconds:>9.3f}{total / seconds:>12.0f}{'' if ratio is None else f'{ratio:.2f}x':>13}")


if __name__ == "__main__":
    main()
