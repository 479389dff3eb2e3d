"""Training-time augmentation of a normalised video: the same signs, signed a little faster or slower, larger or
smaller, turned and moved.

A model trained on a few hundred videos otherwise learns the videos rather than the signs: it can tell its
training videos apart by their tempo and the signer's position, and then it needs neither the sign's shape
nor the description to reproduce their translations. Each training item gets a fresh draw:

- tempo: the video resampled in time by a factor drawn log-uniformly from [1/1.25, 1.25] (nearest frame);
- tempo warp (``warp`` > 1, off by default): on top of that, each quarter of the video at its own tempo, drawn
  log-uniformly from [1/warp, warp], as a signer speeds up and slows down within a sentence;
- size: every point scaled by a factor from [0.9, 1.1] around the shoulder midpoint (x, y and z);
- turn: x and y rotated in the image plane by up to 8 degrees either way;
- position: x and y moved by up to 0.1 shoulder widths.

The draws come from torch's random generator, which the trainer seeds and saves with every checkpoint (and
DataLoader seeds per worker), so a run is repeatable and resumes exactly. Missing points (confidence 0) stay
at 0. Evaluation and inference never augment.
"""

from __future__ import annotations

import math

import numpy as np
import torch

MAX_TEMPO = 1.25
MAX_SIZE = 0.1
MAX_TURN = math.radians(8)
MAX_SHIFT = 0.1


WARP_SEGMENTS = 4


def augment(xyz: np.ndarray, conf: np.ndarray, warp: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A randomly varied copy of one normalised video: ``xyz`` [T, P, 3], ``conf`` [T, P] -> float32 arrays."""
    u = torch.rand(5, dtype=torch.float64).numpy()
    tempo = MAX_TEMPO ** (2 * u[0] - 1)
    n = len(xyz)
    frames = max(1, round(n / tempo))
    # Source frames per output frame: constant, or one rate per segment (drawn only with a warp, so that
    # without one the random sequence, and every earlier run, stays as it was).
    step = np.ones(frames)
    if warp > 1:
        rates = warp ** (2 * torch.rand(WARP_SEGMENTS, dtype=torch.float64).numpy() - 1)
        step = rates[np.arange(frames) * WARP_SEGMENTS // frames]
    position = np.concatenate([[0.0], np.cumsum(step)[:-1]]) * (n / step.sum())
    keep = np.minimum(position.astype(np.int64), n - 1)
    xyz, conf = xyz[keep].astype(np.float32), conf[keep].astype(np.float32)
    size = 1 + MAX_SIZE * (2 * u[1] - 1)
    angle = MAX_TURN * (2 * u[2] - 1)
    c, s = math.cos(angle) * size, math.sin(angle) * size
    transform = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, size]], dtype=np.float32)
    shift = np.array([MAX_SHIFT * (2 * u[3] - 1), MAX_SHIFT * (2 * u[4] - 1), 0.0], dtype=np.float32)
    out = xyz @ transform + shift
    out *= (conf > 0)[..., None]
    return out, conf
