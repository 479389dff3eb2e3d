"""Training-loader benchmark: how fast PoseDataset + StratifiedBatchSampler read a store, against other formats.

One run, same data: a synth store, and the same pose arrays exported as numpy memmaps (of all points, and of
the selected points only: the limit, a memory copy), one HDF5 file (h5py) and one `.pose` file per video
(pose-format, the peer format). Every reader serves the same batches of the same sampler: each video's
`upper` points (125) and confidences, padded into a batch by `prep.collate` (float32 tensors, what a model
gets). The dataset rows run with normalize=False (like the others) and with normalize=True (its default).
All files are in the OS page cache (read once before timing): this measures the loader, not the disk. One
thread, as in a DataLoader worker; passes of the readers take turns, so the machine's load hits them alike.

Also: the time to restore the sampler at batch 10^6 of an epoch, against replaying up to it.

    .venv/bin/python scripts/bench_loader.py --videos 400
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from pose_format import Pose
from pose_format.numpy.pose_body import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

import prep
from prep.layout import point_indices
from prep.synth import SynthConfig, write_synth

ROOT = Path(__file__).resolve().parent.parent
LIMIT = "numpy memmap of the 125 points only (the limit: a memory copy)"
POSE_FORMAT_NAMES = {"POSE": "POSE_LANDMARKS", "FACE": "FACE_LANDMARKS", "LEFT_HAND": "LEFT_HAND_LANDMARKS",
                     "RIGHT_HAND": "RIGHT_HAND_LANDMARKS"}  # fmt: skip


def export(store: prep.Store, out: Path, rows: np.ndarray, points: np.ndarray) -> dict[str, Path]:
    """The store's pose arrays (the videos ``rows``) as .npy files for memmaps (all points, and only
    ``points``), one HDF5 file and one .pose file per video."""
    xyz_all, conf_all, offsets = [], [], [0]
    pose_dir = out / "pose"
    pose_dir.mkdir()
    layout = store.layout
    header = PoseHeader(
        0.2,
        PoseHeaderDimensions(512, 512, 0),
        [PoseHeaderComponent(POSE_FORMAT_NAMES[c.name], list(c.points), [], [], "XYZC") for c in layout.components],
    )
    for row in rows:
        video_id = store.ids[row]
        xyz, conf = store.pose(video_id)
        xyz_all.append(xyz)
        conf_all.append(conf)
        offsets.append(offsets[-1] + len(xyz))
        body = NumPyPoseBody(
            25.0, np.ma.masked_array(xyz[:, None], mask=(conf == 0)[:, None, :, None].repeat(3, -1)), conf[:, None]
        )
        buffer = io.BytesIO()
        Pose(header, body).write(buffer)
        (pose_dir / f"{row}.pose").write_bytes(buffer.getvalue())
    xyz_all, conf_all = np.concatenate(xyz_all), np.concatenate(conf_all)
    np.save(out / "xyz.npy", xyz_all)
    np.save(out / "conf.npy", conf_all)
    np.save(out / "offsets.npy", np.array(offsets))
    np.save(out / "xyz_selected.npy", xyz_all[:, points])
    np.save(out / "conf_selected.npy", conf_all[:, points])
    with h5py.File(out / "pose.h5", "w") as f:
        f["xyz"], f["conf"], f["offsets"] = xyz_all, conf_all, np.array(offsets)
    return {"memmap": out, "h5": out / "pose.h5", "pose": pose_dir}


def readers(ds: prep.PoseDataset, cached: prep.PoseDataset, normalized, files: dict, points: np.ndarray) -> dict:
    """name -> function(batch of dataset indices) -> the batch as ``prep.collate`` makes it for a model."""
    rows = ds.rows
    xyz_map = np.load(files["memmap"] / "xyz.npy", mmap_mode="r")
    conf_map = np.load(files["memmap"] / "conf.npy", mmap_mode="r")
    offsets = np.load(files["memmap"] / "offsets.npy")
    xyz_selected = np.load(files["memmap"] / "xyz_selected.npy", mmap_mode="r")
    conf_selected = np.load(files["memmap"] / "conf_selected.npy", mmap_mode="r")
    h5 = h5py.File(files["h5"], "r")

    def batch_of(arrays):
        return prep.collate([
            {"id": "", "keypoints": xyz, "conf": conf, "length": len(xyz), "text": None, "text_dim": 0,
             "has_text": False, "translation": "", "gloss": ""}
            for xyz, conf in arrays
        ])  # fmt: skip

    def span(i):
        return slice(offsets[i], offsets[i + 1])

    def pose_file(i):
        pose = Pose.read((files["pose"] / f"{rows[i]}.pose").read_bytes())
        return pose.body.data.data[:, 0][:, points], pose.body.confidence[:, 0][:, points]

    return {
        "store, no cache (PoseDataset, normalize=False)": lambda b: prep.collate(ds.__getitems__(b)),
        "store, no cache, normalize=True (default)": lambda b: prep.collate(normalized.__getitems__(b)),
        "store, cache (float16 in memory)": lambda b: prep.collate(cached.__getitems__(b)),
        "numpy memmap, all 543 points (select on read)": lambda b: batch_of(
            (xyz_map[span(i)][:, points], conf_map[span(i)][:, points]) for i in b
        ),
        LIMIT: lambda b: batch_of((xyz_selected[span(i)], conf_selected[span(i)]) for i in b),
        "h5py, one file": lambda b: batch_of(
            (h5["xyz"][span(i)][:, points], h5["conf"][span(i)][:, points]) for i in b
        ),
        ".pose file per video (pose-format)": lambda b: batch_of(pose_file(i) for i in b),
    }


def measure(
    readers: dict, batches: list[list[int]], frames: np.ndarray, repeats: int
) -> dict[str, tuple[float, float]]:
    """name -> (videos per second, microseconds per frame): the median of ``repeats`` passes over all batches.
    Passes of the readers take turns, so a change in the machine's load hits them alike."""
    times = {name: [] for name in readers}
    for round_ in range(repeats + 1):  # round 0 warms the OS page cache and any lazy state
        for name, read in readers.items():
            start = time.perf_counter()
            for batch in batches:
                read(batch)
            if round_:
                times[name].append(time.perf_counter() - start)
    videos = sum(len(b) for b in batches)
    total_frames = sum(frames[i] for b in batches for i in b)
    return {
        name: (videos / statistics.median(t), statistics.median(t) / total_frames * 1e6) for name, t in times.items()
    }


def sampler_restore(position: int = 1_000_000, batch_size: int = 8) -> dict[str, float]:
    """Seconds to resume at batch ``position`` of an epoch, against replaying the batches before it."""
    has_text = np.zeros(position * batch_size + 1000, dtype=bool)
    has_text[::5] = True
    sampler = prep.StratifiedBatchSampler(has_text, batch_size)
    start = time.perf_counter()
    sampler.load_state_dict({**sampler.state_dict(), "position": position})
    next(iter(sampler))
    restore = time.perf_counter() - start
    sampler.load_state_dict({**sampler.state_dict(), "position": 0})
    iterator, count = iter(sampler), 20_000
    start = time.perf_counter()
    for _ in range(count):
        next(iterator)
    replay = (time.perf_counter() - start) / count * position
    return {"restore": restore, "replay": replay}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=400, help="synth videos (all read; default 400)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "loader")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one core for every reader, as in a DataLoader worker

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    url = str(args.out / "synth.zarr")
    start = time.perf_counter()
    write_synth(url, SynthConfig(videos=args.videos, splits=(1.0, 0.0, 0.0)))
    print(f"synth store: {args.videos} videos in {time.perf_counter() - start:.1f} s")
    store = prep.open_store(url)
    ds = prep.PoseDataset(store, normalize=False)
    start = time.perf_counter()
    cached = prep.PoseDataset(store, normalize=False, cache=True)
    fill = time.perf_counter() - start
    normalized = prep.PoseDataset(store)
    points = point_indices("upper", store.point_names)
    files = export(store, args.out, ds.rows, points)
    frames = ds.n_frames
    print(f"{len(ds)} videos, {frames.sum()} frames (mean {frames.mean():.0f}), {len(points)} points; "
          f"cache filled in {fill:.2f} s, {cached.cache_bytes / 2**20:.0f} MiB")  # fmt: skip

    batches = list(prep.StratifiedBatchSampler(ds.has_text, args.batch_size, seed=1))
    results = measure(readers(ds, cached, normalized, files, points), batches, frames, args.repeats)
    pose_rate = results[".pose file per video (pose-format)"][0]
    memmap_rate = results[LIMIT][0]
    print(
        "\n| reader | videos/s | µs/frame | ms per 58-frame video | vs .pose | vs memmap |\n|---|---|---|---|---|---|"
    )
    for name, (rate, per_frame) in results.items():
        print(f"| {name} | {rate:,.0f} | {per_frame:.2f} | {per_frame * 58 / 1000:.3f} | "
              f"{rate / pose_rate:.2f}x | {rate / memmap_rate:.2f}x |")  # fmt: skip

    restore = sampler_restore()
    print(f"\nsampler: resume at batch 1,000,000 of an epoch in {restore['restore'] * 1000:.1f} ms; "
          f"replaying to it would take {restore['replay']:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
