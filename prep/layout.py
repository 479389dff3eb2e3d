"""Keypoint layouts: which points a pose array holds, in which order, under which names.

The default is MediaPipe Holistic's output: pose 33, face 468 (478 with the refined face mesh), left hand 21,
right hand 21. Point names are ``COMPONENT.POINT``, e.g. ``POSE.LEFT_SHOULDER`` or ``RIGHT_HAND.WRIST``;
face points are numbered (``FACE.0`` .. ``FACE.467``) as MediaPipe's face mesh does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

POSE_POINTS = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY", "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE",
    "RIGHT_ANKLE", "LEFT_HEEL", "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
HAND_POINTS = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP", "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP", "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip
FACE_POINTS = 468
REFINED_FACE_POINTS = 478


@dataclass(frozen=True)
class Component:
    name: str
    points: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """An ordered list of components; the pose arrays' point axis follows it."""

    name: str
    components: tuple[Component, ...]

    @property
    def point_names(self) -> list[str]:
        return [f"{c.name}.{p}" for c in self.components for p in c.points]

    @property
    def n_points(self) -> int:
        return sum(len(c.points) for c in self.components)

    def component_slice(self, name: str) -> slice:
        """Where component ``name`` sits on the point axis."""
        start = 0
        for c in self.components:
            if c.name == name:
                return slice(start, start + len(c.points))
            start += len(c.points)
        raise KeyError(f"no component {name!r} in layout {self.name!r}")

    def to_json(self) -> dict:
        return {"name": self.name, "components": [{"name": c.name, "points": list(c.points)} for c in self.components]}

    @classmethod
    def from_json(cls, data: dict) -> Layout:
        return cls(data["name"], tuple(Component(c["name"], tuple(c["points"])) for c in data["components"]))


def holistic(refine_face: bool = False) -> Layout:
    """MediaPipe Holistic: 543 points, or 553 with the refined face mesh (478 face points, irises included)."""
    n_face = REFINED_FACE_POINTS if refine_face else FACE_POINTS
    return Layout(
        "mediapipe-holistic-refined-face" if refine_face else "mediapipe-holistic",
        (
            Component("POSE", POSE_POINTS),
            Component("FACE", tuple(str(i) for i in range(n_face))),
            Component("LEFT_HAND", HAND_POINTS),
            Component("RIGHT_HAND", HAND_POINTS),
        ),
    )


@functools.cache
def holistic_connections(refine_face: bool = False) -> dict[str, list[tuple[int, int]]]:
    """The bones of each Holistic component: pairs of point indices within the component, as MediaPipe 0.10.21
    connects them (``mediapipe.solutions.*_connections``, in their iteration order, which pose-format writes),
    copied into ``holistic_connections.json`` so that drawing and writing .pose files need no MediaPipe. The
    face is the mesh's tesselation (with the irises when refined); ``FACE_CONTOURS`` is its outline only."""
    data = json.loads((Path(__file__).parent / "holistic_connections.json").read_text())
    pairs = {name: [(a, b) for a, b in edges] for name, edges in data.items()}
    face = pairs["FACE"] + (pairs["FACE_IRISES"] if refine_face else [])
    return {"POSE": pairs["POSE"], "FACE": face, "LEFT_HAND": pairs["HAND"], "RIGHT_HAND": pairs["HAND"],
            "FACE_CONTOURS": pairs["FACE_CONTOURS"]}  # fmt: skip


# COCO-WholeBody's 133 keypoints (body 17, feet 6, face 68, left hand 21, right hand 21), as RTMPose gives them and
# Uni-Sign's pose files hold them. Body points take MediaPipe's names where the point is the same (so the shoulders
# that normalisation centres on are POSE.LEFT_SHOULDER and POSE.RIGHT_SHOULDER); hand points are in MediaPipe's
# order (wrist, then thumb to little finger, base to tip); face points are numbered as the 68-point face model's.
WHOLEBODY_POSE = (
    "NOSE", "LEFT_EYE", "RIGHT_EYE", "LEFT_EAR", "RIGHT_EAR", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE",
    "RIGHT_ANKLE",
)  # fmt: skip
WHOLEBODY_FEET = ("LEFT_BIG_TOE", "LEFT_SMALL_TOE", "LEFT_HEEL", "RIGHT_BIG_TOE", "RIGHT_SMALL_TOE", "RIGHT_HEEL")
WHOLEBODY_FACE_POINTS = 68


def coco_wholebody() -> Layout:
    """RTMPose's COCO-WholeBody layout: 133 points, in COCO-WholeBody's order."""
    return Layout(
        "rtmpose-coco-wholebody",
        (
            Component("POSE", WHOLEBODY_POSE),
            Component("FEET", WHOLEBODY_FEET),
            Component("FACE", tuple(str(i) for i in range(WHOLEBODY_FACE_POINTS))),
            Component("LEFT_HAND", HAND_POINTS),
            Component("RIGHT_HAND", HAND_POINTS),
        ),
    )


# ---------------------------------------------------------------------------- point subsets
# MediaPipe face-mesh indices (mediapipe.solutions.face_mesh_connections: FACEMESH_LIPS, FACEMESH_*_EYEBROW).
FACE_LIPS = (
    0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270,
    291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415,
)  # fmt: skip
FACE_EYEBROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
UPPER_POSE = POSE_POINTS[: POSE_POINTS.index("RIGHT_THUMB") + 1]  # NOSE .. RIGHT_THUMB: no hips, legs, feet


def upper_points() -> list[str]:
    """The ``upper`` subset (125 points), in layout order: what sign-language translation work usually keeps.

    - pose: the 23 points from the nose to the thumbs (head, shoulders, elbows, wrists and the pose model's
      coarse hand points); hips, legs and feet are dropped: they are below the signing space, mostly out of
      frame, and MediaPipe guesses them;
    - face: the 40 lip points (mouthings and mouth gestures carry lexical meaning, in Chinese Sign Language
      too) and the 20 eyebrow points (questions, negation, topic: grammatical non-manual markers); the other
      408 mesh points mostly follow head pose, which the pose points already give;
    - both hands: all 21 points each.
    """
    face = sorted(FACE_LIPS + FACE_EYEBROWS)
    return (
        [f"POSE.{p}" for p in UPPER_POSE]
        + [f"FACE.{i}" for i in face]
        + [f"{hand}.{p}" for hand in ("LEFT_HAND", "RIGHT_HAND") for p in HAND_POINTS]
    )


def wholebody_upper_points() -> list[str]:
    """The ``upper`` subset of a COCO-WholeBody store (69 points, in layout order): the points Uni-Sign's own
    loader keeps (``load_part_kp`` in its datasets.py), so that mmprep trains on what Uni-Sign does:

    - pose: the nose, both ears, shoulders, elbows and wrists (9; no eyes, hips, legs);
    - face: every other jaw-line point (0, 2, .., 16), the nose tip (30) and the 8 inner-lip points (60-67);
    - both hands: all 21 points each. The feet are dropped."""
    pose = ["NOSE", "LEFT_EAR", "RIGHT_EAR", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW",
            "LEFT_WRIST", "RIGHT_WRIST"]  # fmt: skip
    face = [*range(0, 17, 2), 30, *range(60, 68)]
    return (
        [f"POSE.{p}" for p in pose]
        + [f"FACE.{i}" for i in face]
        + [f"{hand}.{p}" for hand in ("LEFT_HAND", "RIGHT_HAND") for p in HAND_POINTS]
    )


def point_indices(points: str | Sequence[str], point_names: Sequence[str]) -> np.ndarray:
    """Indices on the point axis of a subset: ``"all"``, ``"upper"`` (``upper_points`` for MediaPipe Holistic,
    ``wholebody_upper_points`` for COCO-WholeBody) or explicit names.

    >>> point_indices(["POSE.LEFT_SHOULDER", "RIGHT_HAND.WRIST"], holistic().point_names)
    array([ 11, 522])
    """
    if isinstance(points, str):
        if points == "all":
            return np.arange(len(point_names))
        if points != "upper":
            raise InputError(f"points must be 'all', 'upper' or a list of point names, not {points!r}")
        points = wholebody_upper_points() if f"FEET.{WHOLEBODY_FEET[0]}" in point_names else upper_points()
    where = {name: i for i, name in enumerate(point_names)}
    unknown = [name for name in points if name not in where]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise InputError(
            f"unknown point name(s) {shown}; names are COMPONENT.POINT as in store.point_names, e.g. "
            "'POSE.LEFT_SHOULDER', 'RIGHT_HAND.WRIST', 'FACE.13'"
        )
    if len(set(points)) != len(points):
        raise InputError("the point list names a point twice")
    if not points:
        raise InputError("the point list is empty")
    return np.array([where[name] for name in points])
