"""The tests' own count of what `mmprep inspect` measures, written plainly (loops over frames and points), and
reading back what `mmprep render` drew."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import av
import numpy as np

TRACKED = ("WRIST", "THUMB_TIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_TIP", "RING_FINGER_TIP", "PINKY_TIP")


def counted_figures(store, video_id: str, cut: float = 0.5, max_speed: float = 15.0) -> dict:
    """The figures of one video, counted frame by frame from the store's confidences and coordinates."""
    xyz, conf = store.pose(video_id)
    row = store.video(video_id)
    names = store.point_names
    n = len(conf)
    found = {}
    for part in ("POSE", "FACE", "LEFT_HAND", "RIGHT_HAND"):
        columns = [i for i, name in enumerate(names) if name.startswith(part + ".")]
        found[part] = [any(conf[t, i] >= cut for i in columns) for t in range(n)]
    no_hand = [not (left or right) for left, right in zip(found["LEFT_HAND"], found["RIGHT_HAND"], strict=True)]
    longest = run = 0
    for missing in no_hand:
        run = run + 1 if missing else 0
        longest = max(longest, run)

    def pixel(t: int, name: str) -> tuple[float, float]:
        i = names.index(name)
        return float(xyz[t, i, 0]) * row["width"], float(xyz[t, i, 1]) * row["height"]

    def counts(t: int, name: str) -> bool:
        return conf[t, names.index(name)] >= cut

    shoulders = ("POSE.LEFT_SHOULDER", "POSE.RIGHT_SHOULDER")
    widths = [math.dist(*(pixel(t, s) for s in shoulders)) for t in range(n) if all(counts(t, s) for s in shoulders)]
    shoulder = statistics.median(widths) if widths else None
    jitter = None
    if shoulder:
        steps = outliers = 0
        for hand in ("LEFT_HAND", "RIGHT_HAND"):
            points = [f"{hand}.{p}" for p in TRACKED]
            for t in range(1, n):
                speeds = [math.dist(pixel(t, p), pixel(t - 1, p)) * row["fps"] / shoulder
                          for p in points if counts(t, p) and counts(t - 1, p)]  # fmt: skip
                if speeds:
                    steps += 1
                    outliers += statistics.median(speeds) > max_speed
        jitter = {"steps": steps, "outliers": outliers}
    return {
        "found": {part: sum(hits) / n for part, hits in found.items()},
        "no_hand": sum(no_hand) / n,
        "longest_no_hand": {"frames": longest, "seconds": longest / row["fps"]},
        "signer_size": None if shoulder is None else shoulder / max(row["width"], row["height"]),
        "jitter": jitter,
    }


def assert_same_figures(record: dict, counted: dict) -> None:
    """Counts equal exactly; the signer's size (a median of float32 distances) to float32's precision."""
    for key in ("found", "no_hand", "longest_no_hand", "jitter"):
        assert record[key] == counted[key], (record["id"], key)
    if counted["signer_size"] is None:
        assert record["signer_size"] is None
    else:
        assert math.isclose(record["signer_size"], counted["signer_size"], rel_tol=1e-5), record["id"]


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame of a video or GIF (RGB) and its stream's average frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)], float(stream.average_rate)


def distance(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))


def drawn_points(xyz: np.ndarray, conf: np.ndarray, columns: list[int], size: tuple[int, int], margin: int = 6):
    """(x, y) pixels of the points ``columns`` of one frame that count (confidence >= 0.5) and lie ``margin``
    pixels inside the frame."""
    width, height = size
    for i in columns:
        x, y = xyz[i, 0] * width, xyz[i, 1] * height
        if conf[i] >= 0.5 and margin <= x < width - margin and margin <= y < height - margin:
            yield int(x), int(y)
