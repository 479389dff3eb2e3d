"""Uni-Sign's released pose files: RTMPose COCO-WholeBody keypoints, one pickle per video.

As Uni-Sign writes them (``demo/pose_extraction.py`` of github.com/ZechengLi19/Uni-Sign) and reads them
(``load_pose`` and ``load_part_kp`` in its ``datasets.py``): a pickle of a dict with

    keypoints   one float array per frame, [people, 133, 2]: x / width, y / height (RTMPose's pixels divided
                by the frame size, so the frame size is not in the file)
    scores      one float array per frame, [people, 133]: RTMPose's SimCC confidences (not probabilities:
                they can exceed 1; Uni-Sign keeps points scoring above 0.3)
    start, end  optional (CSL-News): the video is frames start..end-1 of the arrays

Uni-Sign uses the first person of every frame; so does the import. Points go into the ``rtmpose-coco-wholebody``
layout (``prep.layout.coco_wholebody``) with z = 0 and confidence = the score clipped to [0, 1]; a point
scoring 0 or less (RTMPose gives no location for it) is missing. The file has no frame rate or frame size:
``--fps`` and ``--frame-size`` give them. The pickle is read with only numpy's array constructors allowed.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import safe_pickle
from ..errors import InputError
from ..layout import coco_wholebody
from ..store import VideoResult
from .base import Incoming, Loaded, Source, find_files

N_POINTS = 133


class UniSignFiles(Source):
    """A Uni-Sign ``.pkl`` file, or every ``*.pkl`` under a folder; ids are paths without the suffix, as for
    .pose files. ``fps`` and ``frame_size`` (width, height) are those of the videos the poses came from."""

    def __init__(self, path: Path, fps: float | None, frame_size: tuple[int, int] | None):
        if not fps or not frame_size:
            raise InputError(
                "Uni-Sign pose files hold neither a frame rate nor a frame size: give the videos' with --fps and "
                "--frame-size WIDTHxHEIGHT (CSL-Daily: --fps 30 --frame-size 512x512)"
            )
        self.fps, self.frame_size = float(fps), frame_size
        self.files, self.rejected = find_files(path, ".pkl")

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Incoming]:
        for video_id, file in self.files:
            try:
                content = file.read_bytes()
            except OSError as e:
                yield Incoming({"id": video_id}, "", str(file), functools.partial(_refuse, f"{file}: cannot read: {e}"))
                continue
            fingerprint = f"sha256:{hashlib.sha256(content).hexdigest()}:fps={self.fps:g}"
            load = functools.partial(_load, video_id, file, content, fingerprint, self.fps, self.frame_size)
            yield Incoming({"id": video_id}, fingerprint, str(file.resolve()), load)


def _refuse(message: str):
    raise InputError(message)


def read_unisign(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints float32 [T, 133, 2], scores float32 [T, 133]) of the first person of every frame; a frame
    without a person has scores 0. Raises ValueError saying what is wrong."""
    try:
        data = safe_pickle.loads(content, safe_pickle.NUMPY_ARRAYS)
    except pickle.UnpicklingError as e:
        raise ValueError(str(e)) from None
    if not isinstance(data, dict) or "keypoints" not in data or "scores" not in data:
        found = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"expected a dict with 'keypoints' and 'scores' (Uni-Sign's pose format), found {found}")
    for name in ("keypoints", "scores"):
        if not isinstance(data[name], list | tuple | np.ndarray):
            raise ValueError(f"{name!r} is of type {type(data[name]).__name__}; expected a list of frames")
    keypoints, scores = list(data["keypoints"]), list(data["scores"])
    if not keypoints:
        raise ValueError("it holds no frames")
    if len(keypoints) != len(scores):
        raise ValueError(f"{len(keypoints)} frames of keypoints but {len(scores)} of scores")
    start, end = data.get("start", 0), data.get("end", len(keypoints))
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(keypoints)):
        raise ValueError(f"start {start!r} and end {end!r} are not a range of its {len(keypoints)} frames")
    xy = np.zeros((end - start, N_POINTS, 2), dtype=np.float32)
    conf = np.zeros((end - start, N_POINTS), dtype=np.float32)
    for t in range(start, end):
        try:
            frame_xy, frame_scores = np.asarray(keypoints[t], np.float32), np.asarray(scores[t], np.float32)
        except (TypeError, ValueError) as e:
            raise ValueError(f"frame {t}: not arrays of numbers ({e})") from None
        if frame_xy.shape[-2:] != (N_POINTS, 2) or frame_scores.shape[-1:] != (N_POINTS,):
            raise ValueError(
                f"frame {t}: keypoints of shape {frame_xy.shape} and scores of shape {frame_scores.shape}; expected "
                f"[people, {N_POINTS}, 2] and [people, {N_POINTS}] (COCO-WholeBody)"
            )
        people_xy, people_scores = frame_xy.reshape(-1, N_POINTS, 2), frame_scores.reshape(-1, N_POINTS)
        if len(people_xy) != len(people_scores):
            raise ValueError(
                f"frame {t}: {len(people_xy)} person(s) with keypoints but {len(people_scores)} with scores"
            )
        if len(people_xy):  # none: nobody on this frame
            xy[t - start], conf[t - start] = people_xy[0], people_scores[0]
    return xy, conf


def _load(video_id: str, file: Path, content: bytes, fingerprint: str, fps: float, size: tuple[int, int]) -> Loaded:
    try:
        xy, scores = read_unisign(content)
    except ValueError as e:
        raise InputError(f"{file}: not a usable Uni-Sign pose file: {e}") from None
    if not (np.isfinite(xy).all() and np.isfinite(scores).all()):
        raise InputError(f"{file}: not a usable Uni-Sign pose file: it holds values that are not finite")
    conf = np.clip(scores, 0.0, 1.0)
    xyz = np.zeros((*xy.shape[:2], 3), dtype=np.float32)
    xyz[..., :2] = np.where(conf[..., None] > 0, xy, 0.0)
    n_frames = len(xyz)
    video = dict(n_frames=n_frames, fps=fps, width=size[0], height=size[1], source=str(file.resolve()),
                 fingerprint=fingerprint)  # fmt: skip
    if not conf.any():
        return Loaded(VideoResult(video_id, "no_person", **video))
    result = VideoResult(video_id, "ok", xyz=xyz, conf=conf, time=np.arange(n_frames) / fps, **video)
    return Loaded(result, coco_wholebody())
