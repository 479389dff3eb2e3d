"""Per-video normalisation of keypoints: centred on the shoulders, in units of shoulder width.

The store keeps MediaPipe's coordinates: x and y as fractions of the frame's width and height, z on roughly
the scale of x. ``normalize`` turns one video's points into a frame-independent form:

1. to pixels: x * width, y * height, z * width (so x and y share a unit whatever the aspect ratio);
2. the centre is the shoulder midpoint (POSE.LEFT_SHOULDER, POSE.RIGHT_SHOULDER) averaged over the frames
   that show both shoulders; x and y are centred on it (z is already relative: MediaPipe gives pose z
   relative to the hips, hand z relative to the wrist, face z relative to the face's centre);
3. x, y and z are divided by the shoulder width: the mean shoulder distance in pixels over those frames;
4. missing points (confidence 0) are set back to 0.

One centre and one scale per video, not per frame: the signer's movement relative to the camera is kept, and
a frame where the pose is briefly lost cannot blow up. A video where no frame shows both shoulders (or
where they are less than a pixel apart) falls back to the mean of its detected points as the centre (the
frame's centre if it has none) and a third of the frame width as the scale: the shoulder width of a signer
filmed from the waist up (0.33-0.36 of the width in the sample ``.pose`` files). So the output is always
finite: never NaN, whatever is missing.
"""

from __future__ import annotations

import numpy as np

FALLBACK_SHOULDER_WIDTH = 1 / 3  # of the frame width, when a video never shows both shoulders
MIN_SHOULDER_PIXELS = 1.0


def normalize(xyz: np.ndarray, conf: np.ndarray, width: int, height: int, shoulders: tuple[int, int]) -> np.ndarray:
    """One video's ``xyz`` [T, P, 3] (frame units) in shoulder units, float32; ``conf`` [T, P] marks what is
    missing (0) and ``shoulders`` are the positions of the left and right shoulder on the point axis."""
    if width < 1 or height < 1:
        raise ValueError(f"frame size {width}x{height}: normalising needs the video's width and height")
    scale = np.array([width, height, width], dtype=np.float64)
    left, right = shoulders
    seen = (conf[:, left] > 0) & (conf[:, right] > 0)
    a, b = xyz[seen, left, :2] * scale[:2], xyz[seen, right, :2] * scale[:2]
    unit = float(np.linalg.norm(a - b, axis=1).mean()) if seen.any() else 0.0
    if unit >= MIN_SHOULDER_PIXELS:
        centre = ((a + b) / 2).mean(axis=0)
    else:
        detected = conf > 0
        centre = xyz[detected][:, :2].mean(axis=0) * scale[:2] if detected.any() else scale[:2] / 2
        unit = FALLBACK_SHOULDER_WIDTH * width
    # (xyz * scale - centre) / unit, zero where missing. On rows of P * 3 values: numpy broadcasts over a last
    # axis of length 3 some ten times slower.
    n_frames, n_points = conf.shape
    out = xyz.reshape(n_frames, -1) * np.tile((scale / unit).astype(np.float32), n_points)
    out -= np.tile(np.array([centre[0] / unit, centre[1] / unit, 0.0], dtype=np.float32), n_points)
    out *= np.repeat(conf > 0, 3, axis=1)
    return out.reshape(xyz.shape)
