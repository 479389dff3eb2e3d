"""Synthetic signing: MediaPipe Holistic points (pose 33, face 468, hands 2 x 21) of a signer, frame by frame.

Units: S, the signer's shoulder width, from the shoulder midpoint; image axes (x right, y down), z negative
towards the camera. The person's right side is on the image's left, as a camera facing the signer sees it.
Everything is vectorised over frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ..layout import FACE_EYEBROWS, FACE_LIPS, FACE_POINTS, HAND_POINTS, POSE_POINTS

# Handshapes: flexion of thumb, index, middle, ring, pinky (0 straight, 1 fully bent).
HANDSHAPES = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],  # flat
        [1.0, 1.0, 1.0, 1.0, 1.0],  # fist
        [1.0, 0.0, 1.0, 1.0, 1.0],  # index
        [1.0, 0.0, 0.0, 1.0, 1.0],  # V
        [0.0, 1.0, 1.0, 1.0, 0.0],  # Y
        [0.0, 0.0, 1.0, 1.0, 1.0],  # L
        [0.3, 0.5, 0.5, 0.5, 0.5],  # claw
        [0.6, 0.6, 0.6, 0.6, 0.6],  # O
        [0.0, 1.0, 1.0, 1.0, 1.0],  # thumb up
        [0.0, 0.0, 0.0, 1.0, 1.0],  # three
    ]
)
RELAXED = np.full(5, 0.3)
# The right hand, palm to the camera, fingers up (y up here): finger bases, directions and segment lengths.
FINGER_BASE = np.array([[0.06, 0.04], [0.05, 0.22], [0.0, 0.23], [-0.045, 0.21], [-0.085, 0.18]])
FINGER_DIRECTION = np.array([[0.8, 0.6], [0.1, 1.0], [0.0, 1.0], [-0.1, 1.0], [-0.2, 1.0]])
FINGER_LENGTH = np.array(
    [[0.08, 0.06, 0.05], [0.10, 0.06, 0.05], [0.11, 0.07, 0.05], [0.10, 0.065, 0.05], [0.08, 0.05, 0.045]]
)
MAX_BEND = np.array([1.4, 1.7, 1.2])  # radians per joint at flexion 1
UPPER_ARM, FOREARM = 0.75, 0.7
REST = np.array([[-0.35, 1.9, -0.1], [0.35, 1.9, -0.1]])  # wrists below the frame: hands not seen
BODY = {  # pose points that only follow the head or the trunk
    "NOSE": (0.0, -0.75, -0.55), "LEFT_EYE_INNER": (0.05, -0.85, -0.5), "LEFT_EYE": (0.09, -0.86, -0.5),
    "LEFT_EYE_OUTER": (0.13, -0.86, -0.48), "RIGHT_EYE_INNER": (-0.05, -0.85, -0.5), "RIGHT_EYE": (-0.09, -0.86, -0.5),
    "RIGHT_EYE_OUTER": (-0.13, -0.86, -0.48), "LEFT_EAR": (0.2, -0.8, -0.2), "RIGHT_EAR": (-0.2, -0.8, -0.2),
    "MOUTH_LEFT": (0.06, -0.62, -0.5), "MOUTH_RIGHT": (-0.06, -0.62, -0.5), "LEFT_SHOULDER": (0.5, 0.0, 0.0),
    "RIGHT_SHOULDER": (-0.5, 0.0, 0.0), "LEFT_HIP": (0.32, 1.6, 0.0), "RIGHT_HIP": (-0.32, 1.6, 0.0),
    "LEFT_KNEE": (0.3, 2.6, 0.0), "RIGHT_KNEE": (-0.3, 2.6, 0.0), "LEFT_ANKLE": (0.3, 3.5, 0.1),
    "RIGHT_ANKLE": (-0.3, 3.5, 0.1), "LEFT_HEEL": (0.3, 3.6, 0.15), "RIGHT_HEEL": (-0.3, 3.6, 0.15),
    "LEFT_FOOT_INDEX": (0.3, 3.65, -0.2), "RIGHT_FOOT_INDEX": (-0.3, 3.65, -0.2),
}  # fmt: skip
HEAD = ("NOSE", "EYE", "EAR", "MOUTH")
P = {name: i for i, name in enumerate(POSE_POINTS)}
N_POINTS = len(POSE_POINTS) + FACE_POINTS + 2 * len(HAND_POINTS)


@dataclass(frozen=True)
class Prototype:
    """One sign as the vocabulary defines it."""

    right: np.ndarray  # [K, 3] control points of the right wrist
    left: np.ndarray | None  # [K, 3] of the left wrist; None: one-handed, the left hand rests
    shapes: tuple[int, int]  # handshape at the start and the end
    turn: tuple[float, float]  # in-plane hand rotation (radians) at the start and the end
    frames: int  # nominal duration


def make_prototypes(n: int, rng: np.random.Generator) -> list[Prototype]:
    """``n`` distinct signs: smooth wrist paths through 3-4 points of the signing space, 8-16 frames."""
    signs = []
    for _ in range(n):
        k = int(rng.integers(3, 5))
        right = np.column_stack([rng.uniform(-1.0, 0.3, k), rng.uniform(-1.0, 0.8, k), rng.uniform(-0.8, -0.2, k)])
        kind = rng.random()
        if kind < 0.3:  # two hands, mirrored
            left = right * np.array([-1.0, 1.0, 1.0])
        elif kind < 0.45:  # two hands: the left one holds still as a base
            left = np.tile([rng.uniform(0.0, 0.5), rng.uniform(0.2, 0.7), rng.uniform(-0.6, -0.3)], (k, 1))
        else:
            left = None
        shapes = (int(rng.integers(len(HANDSHAPES))), int(rng.integers(len(HANDSHAPES))))
        turn = (float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.6, 0.6)))
        signs.append(Prototype(right, left, shapes, turn, int(rng.integers(8, 17))))
    return signs


def _spline(points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Catmull-Rom curve through ``points`` [K, D] at ``t`` in [0, 1]: smooth, through every control point."""
    padded = np.concatenate([points[:1], points, points[-1:]])
    u = t * (len(points) - 1)
    i = np.minimum(u.astype(int), len(points) - 2)
    s = (u - i)[:, None]
    p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
    return 0.5 * (2 * p1 + (p2 - p0) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s**2 + (3 * p1 - p0 - 3 * p2 + p3) * s**3)


@dataclass
class Track:
    """Per-frame controls of both hands: wrists [T, 2, 3], flexion [T, 2, 5], rotation [T, 2]."""

    wrist: np.ndarray
    flex: np.ndarray
    turn: np.ndarray

    @classmethod
    def hold(cls, wrist: np.ndarray, flex: np.ndarray, turn: np.ndarray, frames: int) -> Track:
        return cls(
            np.repeat(wrist[None], frames, 0), np.repeat(flex[None], frames, 0), np.repeat(turn[None], frames, 0)
        )

    def last(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.wrist[-1], self.flex[-1], self.turn[-1]


def sign_track(sign: Prototype, rng: np.random.Generator, tempo: float) -> Track:
    """One occurrence of a sign, varied in speed, size and position; in a one-handed sign the left hand rests."""
    frames = max(4, round(sign.frames * tempo * rng.uniform(0.8, 1.25)))
    t = np.linspace(0.0, 1.0, frames)
    size, offset = rng.uniform(0.85, 1.15), rng.normal(0.0, 0.08, 3) * np.array([1.0, 1.0, 0.5])
    path = []
    for points in (sign.right, sign.left):
        if points is None:
            path.append(np.repeat(REST[1][None], frames, 0))
            continue
        centre = points.mean(axis=0)
        path.append(_spline(centre + (points - centre) * size + offset, t))
    shape = HANDSHAPES[list(sign.shapes)]
    flex_right = shape[0] + (shape[1] - shape[0]) * _ease(t)[:, None]
    flex_left = flex_right if sign.left is not None else np.repeat(RELAXED[None], frames, 0)
    turn = sign.turn[0] + (sign.turn[1] - sign.turn[0]) * _ease(t)
    return Track(np.stack(path, axis=1), np.stack([flex_right, flex_left], axis=1), np.stack([turn, -turn], axis=1))


def _ease(t: np.ndarray) -> np.ndarray:
    return t * t * (3 - 2 * t)


def transition(start: Track, end: Track, frames: int) -> Track:
    """Movement from the last frame of ``start`` to the first of ``end`` (the frames strictly between)."""
    s = _ease(np.linspace(0.0, 1.0, frames + 2)[1:-1])

    def blend(a, b):
        return a[None] + (b - a)[None] * s.reshape(-1, *([1] * a.ndim))

    a, b = start.last(), (end.wrist[0], end.flex[0], end.turn[0])
    return Track(*(blend(x, y) for x, y in zip(a, b, strict=True)))


def rest_track(frames: int) -> Track:
    return Track.hold(REST, np.stack([RELAXED, RELAXED]), np.array([np.pi, -np.pi]), frames)


def _hands(track: Track) -> np.ndarray:
    """Hand points [T, 2, 21, 3] in S units relative to the wrist (MediaPipe's hand z is relative to it)."""
    frames = len(track.wrist)
    angles = track.flex[..., None] * MAX_BEND  # [T, 2, 5, 3]
    total = np.cumsum(angles, axis=-1)
    direction = FINGER_DIRECTION / np.linalg.norm(FINGER_DIRECTION, axis=1, keepdims=True)
    # Each segment: along the finger's direction, bent towards the camera by the angles so far.
    along = FINGER_LENGTH * np.cos(total)  # [T, 2, 5, 3]
    depth = -FINGER_LENGTH * np.sin(total)
    joints = np.zeros((frames, 2, 5, 4, 3))
    joints[..., 0, :2] = FINGER_BASE
    steps = np.concatenate([along[..., None] * direction[:, None, :], depth[..., None]], axis=-1)
    joints[..., 1:, :] = joints[..., :1, :] + np.cumsum(steps, axis=-2)
    points = np.concatenate([np.zeros((frames, 2, 1, 3)), joints.reshape(frames, 2, 20, 3)], axis=2)
    points[..., 1] *= -1  # y up in the template, down in the image
    points[:, 1, :, 0] *= -1  # the left hand mirrors the right
    c, s = np.cos(track.turn)[..., None], np.sin(track.turn)[..., None]
    x, y = points[..., 0].copy(), points[..., 1].copy()
    points[..., 0], points[..., 1] = c * x - s * y, s * x + c * y
    return points


def _elbows(shoulder: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """Elbow positions [T, 2] by two-link inverse kinematics: of the two solutions, the lower one."""
    d = wrist - shoulder
    dist = np.clip(np.linalg.norm(d, axis=1), abs(UPPER_ARM - FOREARM) + 1e-3, UPPER_ARM + FOREARM - 1e-3)
    unit = d / np.maximum(np.linalg.norm(d, axis=1), 1e-6)[:, None]
    cos_a = (UPPER_ARM**2 + dist**2 - FOREARM**2) / (2 * UPPER_ARM * dist)
    candidates = []
    for a in (np.arccos(np.clip(cos_a, -1.0, 1.0)), -np.arccos(np.clip(cos_a, -1.0, 1.0))):
        c, s = np.cos(a), np.sin(a)
        candidates.append(
            shoulder + UPPER_ARM * np.stack([unit[:, 0] * c - unit[:, 1] * s, unit[:, 0] * s + unit[:, 1] * c], 1)
        )
    return np.where((candidates[0][:, 1] >= candidates[1][:, 1])[:, None], candidates[0], candidates[1])


@cache
def _face_template() -> np.ndarray:
    """468 face points [468, 3] relative to the shoulder midpoint: lips around the mouth, eyebrows above
    the eyes, the rest spread over the face. The same for every signer; it carries no information."""
    rng = np.random.default_rng(468)
    r, a = np.sqrt(rng.random(FACE_POINTS)), rng.uniform(0, 2 * np.pi, FACE_POINTS)
    face = np.column_stack([0.22 * r * np.cos(a), -0.78 + 0.3 * r * np.sin(a), -0.45 - 0.05 * (1 - r)])
    lips = np.linspace(0, 2 * np.pi, len(FACE_LIPS), endpoint=False)
    face[list(FACE_LIPS)] = np.column_stack(
        [0.07 * np.cos(lips), -0.62 + 0.025 * np.sin(lips), np.full(len(lips), -0.5)]
    )
    brow = np.linspace(-1, 1, len(FACE_EYEBROWS) // 2)
    for side, indices in ((-1, FACE_EYEBROWS[:10]), (1, FACE_EYEBROWS[10:])):
        face[list(indices)] = np.column_stack(
            [side * (0.1 + 0.05 * brow), -0.95 - 0.02 * (1 - brow**2), np.full(10, -0.48)]
        )
    face.flags.writeable = False
    return face


def render(track: Track, rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A video's (xyz float32 [T, 543, 3], conf float32 [T, 543]) as MediaPipe would give them: x, y as fractions
    of the frame, z on the scale of x; hands missing (0, confidence 0) out of the frame and at random moments."""
    frames = len(track.wrist)
    unit = width / 3 * rng.uniform(0.85, 1.1)  # shoulder width in pixels
    origin = np.array([width / 2 + rng.normal(0, 0.04 * width), height / 2 + rng.normal(0, 0.03 * height), 0.0])
    phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(50, 100)
    sway = 0.03 * np.sin(2 * np.pi * np.arange(frames) / period + phase)[:, None] * np.array([1.0, 0.3, 0.0])
    wrist = track.wrist + rng.normal(0, 0.01, track.wrist.shape)

    pose = np.zeros((frames, len(POSE_POINTS), 3))
    for name, position in BODY.items():
        pose[:, P[name]] = position
    head = [P[n] for n in P if n.startswith(HEAD)]
    pose[:, head] += sway[:, None]
    hands = _hands(track) + wrist[:, :, None]
    for h, side in enumerate(("RIGHT", "LEFT")):
        shoulder = pose[:, P[f"{side}_SHOULDER"], :2]
        pose[:, P[f"{side}_ELBOW"], :2] = _elbows(shoulder, wrist[:, h, :2])
        pose[:, P[f"{side}_ELBOW"], 2] = wrist[:, h, 2] / 2
        pose[:, P[f"{side}_WRIST"]] = wrist[:, h]
        for proxy, joint in (("PINKY", 17), ("INDEX", 5), ("THUMB", 3)):
            pose[:, P[f"{side}_{proxy}"]] = hands[:, h, joint]
    hands[..., 2] -= wrist[:, :, None, 2]  # MediaPipe's hand z is relative to the wrist
    face = _face_template()[None] + sway[:, None]
    # Noise per point and frame (in shoulder widths): pose 0.006, face 0.003, hands 0.004; float32 for speed.
    sigma = np.repeat(
        np.array([0.006, 0.003, 0.004], np.float32), [len(POSE_POINTS), FACE_POINTS, 2 * len(HAND_POINTS)]
    )
    points = np.concatenate([pose, face, hands[:, 1], hands[:, 0]], axis=1).astype(np.float32)
    points += rng.standard_normal(points.shape, dtype=np.float32) * sigma[:, None]
    scale = (unit / np.array([width, height, width])).astype(np.float32)
    xyz = points * scale + (origin / np.array([width, height, width])).astype(np.float32)
    conf = np.ones((frames, N_POINTS), dtype=np.float32)
    inside = (xyz[..., 0] > 0) & (xyz[..., 0] < 1) & (xyz[..., 1] > 0) & (xyz[..., 1] < 1)
    pose_conf = np.where(
        inside[:, : len(POSE_POINTS)], rng.uniform(0.95, 1.0, pose.shape[:2]), rng.uniform(0.05, 0.3, pose.shape[:2])
    )
    conf[:, : len(POSE_POINTS)] = pose_conf
    start = len(POSE_POINTS) + FACE_POINTS
    for first in (start, start + len(HAND_POINTS)):
        seen = inside[:, first] & ~_dropouts(frames, rng)
        conf[:, first : first + len(HAND_POINTS)] = seen[:, None]
    xyz[conf == 0] = 0.0
    return xyz, conf


def _dropouts(frames: int, rng: np.random.Generator, start: float = 0.04, mean_run: float = 3.0) -> np.ndarray:
    """Frames where a hand in view is missed anyway: runs starting with probability ``start`` per frame."""
    missed = np.zeros(frames, dtype=bool)
    for first in np.flatnonzero(rng.random(frames) < start):
        missed[first : first + int(rng.geometric(1 / mean_run))] = True
    return missed
