"""The figures of one video's keypoints: which parts were found, how long the hands were gone, how large the
signer is, and how often a hand moves faster than a signer's hand can (jitter).

A point counts when its confidence is at least the layout's cut (``skeleton.MIN_CONFIDENCE``); a part is found
in a frame when any of its points counts; a hand is any of the layout's two hand components.

- ``found``: per part, the share of frames in which it was found.
- ``no_hand``: the share of frames in which neither hand was found; ``longest_no_hand``: the longest run of such
  frames, in frames and seconds.
- ``signer_size``: the median over frames (both shoulders counting) of the shoulder width in pixels, over the
  frame's longer side; None when the shoulders never count.
- ``jitter``: each hand's steps from a frame to the next, where its wrist or a fingertip counts in both frames;
  a step's speed is the median over those six points of their speed, in shoulder widths per second (so the
  measure is the same at any resolution and frame rate, and one misplaced point does not make a step an
  outlier); ``outliers`` counts the steps faster than ``max_hand_speed``. None without shoulders to scale by.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..layout import Layout
from ..store import Store
from .skeleton import HANDS, skeleton

TRACKED = ("WRIST", "THUMB_TIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_TIP", "RING_FINGER_TIP", "PINKY_TIP")
SHOULDERS = ("POSE.LEFT_SHOULDER", "POSE.RIGHT_SHOULDER")
BATCH_FRAMES = 4096  # frames read from the store at once


@dataclass(frozen=True)
class Reading:
    """Where a layout keeps what the figures need."""

    parts: dict[str, slice]
    tracked: np.ndarray  # the six tracked points of the left hand, of the right hand, then the two shoulders
    has_shoulders: bool
    min_confidence: float

    @classmethod
    def of(cls, layout: Layout) -> Reading:
        index = {name: i for i, name in enumerate(layout.point_names)}
        has_shoulders = all(s in index for s in SHOULDERS)
        tracked = [index[f"{hand}.{p}"] for hand in HANDS for p in TRACKED]
        tracked += [index[s] for s in SHOULDERS] if has_shoulders else []
        parts = {c.name: layout.component_slice(c.name) for c in layout.components}
        return cls(parts, np.array(tracked), has_shoulders, skeleton(layout).min_confidence)


def longest_run(flags: np.ndarray) -> int:
    """The length of the longest run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if starts.size else 0


def figures(xyz: np.ndarray, conf: np.ndarray, reading: Reading, video: dict, max_hand_speed: float) -> dict:
    """The figures of one video (xyz [T, P, 3] normalised to the frame, conf [T, P]); ``video`` is its store row
    (fps, width, height)."""
    counts = conf >= reading.min_confidence
    n, fps = len(conf), float(video["fps"])
    found = {name: counts[:, where].any(axis=1) for name, where in reading.parts.items()}
    no_hand = ~(found[HANDS[0]] | found[HANDS[1]])
    longest = longest_run(no_hand)
    # The tracked points only, in pixels: [T, 12 or 14, 2], and whether each counts.
    pixels = xyz[:, reading.tracked, :2] * np.array([video["width"], video["height"]], dtype=np.float32)
    tracked = counts[:, reading.tracked]
    shoulder = _shoulder_width(pixels[:, 12:], tracked[:, 12:]) if reading.has_shoulders else None
    return {
        "found": {name: int(hit.sum()) / n for name, hit in found.items()},
        "no_hand": int(no_hand.sum()) / n,
        "longest_no_hand": {"frames": longest, "seconds": longest / fps},
        "signer_size": None if shoulder is None else shoulder / max(video["width"], video["height"]),
        "jitter": None if shoulder is None else _jitter(pixels, tracked, fps / shoulder, max_hand_speed),
    }


def _shoulder_width(pixels: np.ndarray, counts: np.ndarray) -> float | None:
    """The median distance of the two points (pixels [T, 2, 2]) over the frames where both count."""
    both = counts.all(axis=1)
    if not both.any():
        return None
    width = float(np.median(np.linalg.norm(pixels[both, 0] - pixels[both, 1], axis=1)))
    return width if width > 0 else None


def _jitter(pixels: np.ndarray, counts: np.ndarray, scale: float, max_speed: float) -> dict:
    """Steps measured and steps faster than ``max_speed``, over both hands (pixels[:, 0:6] and [:, 6:12]);
    ``scale`` turns pixels per frame into shoulder widths per second."""
    steps = outliers = 0
    for hand in (slice(0, 6), slice(6, 12)):
        valid = counts[1:, hand] & counts[:-1, hand]  # [T-1, 6]: the point counts in both frames
        measured = valid.any(axis=1)
        if not measured.any():
            continue
        valid = valid[measured]
        moved = np.linalg.norm(np.diff(pixels[:, hand], axis=0)[measured], axis=2) * scale
        # nanmedian is slow; MediaPipe's hands have all their points or none, so it is rarely needed.
        speed = np.median(moved, axis=1) if valid.all() else np.nanmedian(np.where(valid, moved, np.nan), axis=1)
        steps += int(measured.sum())
        outliers += int((speed > max_speed).sum())
    return {"steps": steps, "outliers": outliers}


def measure(store: Store, videos: list[dict], max_hand_speed: float) -> Iterator[dict]:
    """The figures of each of ``videos`` (ok videos' rows: id, n_frames, fps, width, height), in order, reading
    the frames of about BATCH_FRAMES at once."""
    reading = Reading.of(store.layout)
    for batch in _batches(videos):
        spans = [store.frame_range(video["id"]) for video in batch]
        xyz, conf = store.read_frames(spans)
        bounds = np.cumsum([0] + [video["n_frames"] for video in batch])
        for video, start, stop in zip(batch, bounds[:-1], bounds[1:], strict=True):
            yield figures(xyz[start:stop], conf[start:stop], reading, video, max_hand_speed)


def _batches(videos: list[dict]) -> Iterator[list[dict]]:
    batch, frames = [], 0
    for video in videos:
        batch.append(video)
        frames += video["n_frames"]
        if frames >= BATCH_FRAMES:
            yield batch
            batch, frames = [], 0
    if batch:
        yield batch
