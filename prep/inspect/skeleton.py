"""What is drawn of a layout: each part's bones and points, its colour, and which points count as found.

MediaPipe Holistic: the pose's and hands' bones as MediaPipe connects them (``layout.holistic_connections``), the
face as its outline only (``FACE_CONTOURS``: the face's oval, eyes, brows and lips, not the 2,556-edge mesh).
COCO-WholeBody (``layout.coco_wholebody``): COCO's 17-point body skeleton, each ankle joined to its three foot
points, the hands as MediaPipe's (the same 21 points in the same order) and the 68-point face model's contours
(jaw, brows, nose, eyes, lips). In both, the pose's head points (nose, eyes, ears, mouth) are left out: the face's
outline shows the head. Any other layout: every point, no bones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layout import Layout, holistic_connections

# A point counts (is drawn, and makes its part found) when its confidence is at least this. MediaPipe: hand and face
# points are 1 when their part was detected and 0 when not; pose points carry the model's visibility, and
# MediaPipe's own drawing skips those under 0.5. RTMPose's COCO-WholeBody scores: Uni-Sign keeps points above 0.3.
MIN_CONFIDENCE = {"rtmpose-coco-wholebody": 0.3}
DEFAULT_MIN_CONFIDENCE = 0.5

# RGB; the hands in two colours that stand out on skin, clothes and each other.
COLOURS = {
    "POSE": (255, 200, 0),
    "FEET": (255, 200, 0),
    "FACE": (235, 235, 235),
    "LEFT_HAND": (0, 170, 255),
    "RIGHT_HAND": (255, 40, 150),
}
OTHER_COLOUR = (255, 255, 255)
HANDS = ("LEFT_HAND", "RIGHT_HAND")
HEAD = ("NOSE", "LEFT_EYE", "RIGHT_EYE", "LEFT_EAR", "RIGHT_EAR", "MOUTH")  # pose points by name prefix

# COCO-WholeBody, by point name.
WHOLEBODY_BODY = [
    ("NOSE", "LEFT_EYE"), ("NOSE", "RIGHT_EYE"), ("LEFT_EYE", "LEFT_EAR"), ("RIGHT_EYE", "RIGHT_EAR"),
    ("LEFT_SHOULDER", "RIGHT_SHOULDER"), ("LEFT_SHOULDER", "LEFT_ELBOW"), ("LEFT_ELBOW", "LEFT_WRIST"),
    ("RIGHT_SHOULDER", "RIGHT_ELBOW"), ("RIGHT_ELBOW", "RIGHT_WRIST"), ("LEFT_SHOULDER", "LEFT_HIP"),
    ("RIGHT_SHOULDER", "RIGHT_HIP"), ("LEFT_HIP", "RIGHT_HIP"), ("LEFT_HIP", "LEFT_KNEE"), ("LEFT_KNEE", "LEFT_ANKLE"),
    ("RIGHT_HIP", "RIGHT_KNEE"), ("RIGHT_KNEE", "RIGHT_ANKLE"),
]  # fmt: skip
WHOLEBODY_FEET = [
    (f"POSE.{side}_ANKLE", f"FEET.{side}_{toe}")
    for side in ("LEFT", "RIGHT")
    for toe in ("BIG_TOE", "SMALL_TOE", "HEEL")
]
# The 68-point face model's contours: (first, last, closed) runs of consecutive points.
FACE68_RUNS = [(0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False), (36, 41, True),
               (42, 47, True), (48, 59, True), (60, 67, True)]  # fmt: skip


@dataclass(frozen=True)
class Part:
    name: str
    colour: tuple[int, int, int]
    points: np.ndarray  # indices on the layout's point axis drawn as dots (none for the face: its outline is enough)
    bones: np.ndarray  # [B, 2] indices on the layout's point axis


@dataclass(frozen=True)
class Skeleton:
    parts: tuple[Part, ...]
    min_confidence: float


def skeleton(layout: Layout) -> Skeleton:
    """How ``layout``'s poses are drawn (see the module's docstring)."""
    bones = _bones(layout)
    head = set()
    if bones.get("FACE"):
        prefixes = tuple(f"POSE.{name}" for name in HEAD)
        head = {i for i, name in enumerate(layout.point_names) if name.startswith(prefixes)}
    parts = []
    for component in layout.components:
        where = layout.component_slice(component.name)
        pairs = [pair for pair in bones.get(component.name, []) if not head.intersection(pair)]
        points = (
            [] if component.name == "FACE" and pairs else [i for i in range(where.start, where.stop) if i not in head]
        )
        parts.append(Part(component.name, COLOURS.get(component.name, OTHER_COLOUR), np.array(points, dtype=np.int64),
                          np.array(pairs, dtype=np.int64).reshape(-1, 2)))  # fmt: skip
    return Skeleton(tuple(parts), MIN_CONFIDENCE.get(layout.name, DEFAULT_MIN_CONFIDENCE))


def _bones(layout: Layout) -> dict[str, list[tuple[int, int]]]:
    """Each component's bones, as pairs of indices on the layout's point axis."""
    start = {c.name: layout.component_slice(c.name).start for c in layout.components}
    if layout.name.startswith("mediapipe-holistic"):
        connections = holistic_connections(layout.name.endswith("refined-face"))
        local = {name: connections["FACE_CONTOURS" if name == "FACE" else name] for name in start}
    elif layout.name == "rtmpose-coco-wholebody":
        hand = holistic_connections()["LEFT_HAND"]
        face = [(a + i, a + i + 1) for a, b, _ in FACE68_RUNS for i in range(b - a)]
        face += [(b, a) for a, b, closed in FACE68_RUNS if closed]
        local = {"FACE": face, "LEFT_HAND": hand, "RIGHT_HAND": hand}
    else:
        return {}
    bones = {name: [(start[name] + a, start[name] + b) for a, b in pairs] for name, pairs in local.items()}
    if layout.name == "rtmpose-coco-wholebody":
        index = {name: i for i, name in enumerate(layout.point_names)}
        bones["POSE"] = [(index[f"POSE.{a}"], index[f"POSE.{b}"]) for a, b in WHOLEBODY_BODY]
        bones["FEET"] = [(index[a], index[b]) for a, b in WHOLEBODY_FEET]
    return bones
