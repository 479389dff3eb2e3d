"""Keypoint layouts: which points a pose array holds, in which order, under which names.

The default is MediaPipe Holistic's output: pose 33, face 468 (478 with the refined face mesh), left hand 21,
right hand 21. Point names are ``COMPONENT.POINT``, e.g. ``POSE.LEFT_SHOULDER`` or ``RIGHT_HAND.WRIST``;
face points are numbered (``FACE.0`` .. ``FACE.467``) as MediaPipe's face mesh does.
"""

from __future__ import annotations

from dataclasses import dataclass

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
