"""Drawing one frame's skeleton (Pillow), over the video's frame or on a plain background.

Parts are drawn face first and hands last, so nothing covers a hand; each part's bones, then a dark ring around
every point, then the points: a point's centre pixel is its part's colour (the tests read it there). Sizes
follow the frame's longer side, so a thumbnail and a full-size frame look alike.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .skeleton import HANDS, Skeleton

BACKGROUND = (48, 48, 48)  # the plain background: dark grey, on which every part's colour stands out
RING = (0, 0, 0)
ORDER = {"FACE": 0, "POSE": 1, "FEET": 1, "LEFT_HAND": 2, "RIGHT_HAND": 3}


def blank(size: tuple[int, int]) -> np.ndarray:
    """A plain background of ``size`` (width, height)."""
    return np.full((size[1], size[0], 3), BACKGROUND, dtype=np.uint8)


def draw(frame: np.ndarray, xyz: np.ndarray, conf: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """``frame`` (RGB uint8 [H, W, 3]) with the skeleton of one frame's points (xyz [P, 3] normalised to the
    frame, conf [P]) drawn over it; points under the skeleton's confidence cut, and bones touching one, are
    left out."""
    height, width = frame.shape[:2]
    image = Image.fromarray(frame)
    pen = ImageDraw.Draw(image)
    side = max(width, height)
    xy = xyz[:, :2] * np.array([width, height])
    counts = conf >= skeleton.min_confidence
    for part in sorted(skeleton.parts, key=lambda p: ORDER.get(p.name, 1)):
        hand = part.name in HANDS
        line = max(1, round(side / 700)) if part.name == "FACE" else max(2, round(side / (250 if hand else 360)))
        for a, b in part.bones:
            if counts[a] and counts[b]:
                pen.line([tuple(xy[a]), tuple(xy[b])], fill=part.colour, width=line)
        radius = max(2.0, side / (130 if hand else 200))
        shown = [i for i in part.points if counts[i]]
        for colour, r in ((RING, radius + max(1.0, radius / 3)), (part.colour, radius)):
            for x, y in xy[shown]:
                pen.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return np.asarray(image)


def resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` scaled to ``size`` (width, height)."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
