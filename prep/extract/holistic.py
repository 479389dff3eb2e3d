"""MediaPipe Holistic (the legacy solution of mediapipe 0.10.21) in video mode, as arrays in the store's layout.

Points follow ``prep.layout.holistic``: pose 33, face 468 (478 refined), left hand 21, right hand 21; x and y
normalised to the frame, z as MediaPipe gives it. Confidence: the pose landmark's visibility; 1 for face and
hand points when that part was detected. Points of an undetected part are 0 with confidence 0.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import MmprepError
from ..layout import Layout, holistic

# Only the full pose model (model_complexity=1) ships in the mediapipe wheel; MediaPipe downloads the others
# into its own package folder at first use.
POSE_MODEL_FILES = {0: "pose_landmark_lite.tflite", 2: "pose_landmark_heavy.tflite"}
MODEL_URL = "https://storage.googleapis.com/mediapipe-assets/"


# The legacy Holistic solution, with its models inside the wheel, is in mediapipe up to 0.10.21 (gone from
# 0.10.30). 0.10.21 has wheels for CPython 3.9 to 3.12 and needs numpy < 2: the `mediapipe` extra installs it.
MEDIAPIPE_RELEASE = "0.10.21"
MEDIAPIPE_PYTHONS = "CPython 3.9 to 3.12"
LEGACY_REMOVED_IN = (0, 10, 30)


class ModelMissingError(MmprepError):
    """A pose model MediaPipe would download is not installed and cannot be fetched."""


class MediaPipeMissingError(MmprepError):
    """MediaPipe's legacy Holistic solution, which extraction runs, is not installed."""


def require_mediapipe(task: str = "`mmprep extract`", instead: str = "") -> None:
    """Raise MediaPipeMissingError, saying what to install and where it exists, unless a mediapipe with the legacy
    Holistic solution is installed. Reads the package metadata only: importing MediaPipe takes seconds.

    ``task`` names what needs it; ``instead`` ends the message with what the user can do without it."""
    try:
        version = importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        version = None
    if version is not None and tuple(int(p) for p in version.split(".")[:3] if p.isdigit()) < LEGACY_REMOVED_IN:
        return
    found = (
        f"mediapipe {version} is installed, but its legacy Holistic solution was removed in 0.10.30"
        if version
        else "MediaPipe is not installed"
    )
    here = f"CPython {sys.version.split()[0]}"
    raise MediaPipeMissingError(
        f"{task} needs MediaPipe's legacy Holistic solution and {found}. Install it with "
        f"`pip install 'mmprep[mediapipe]'` (mediapipe {MEDIAPIPE_RELEASE}, the last release that ships the Holistic "
        f"models; it exists for {MEDIAPIPE_PYTHONS} and needs numpy < 2; this is {here}). Where it cannot be "
        "installed, extract in a separate Python 3.11 or 3.12 environment: every other command reads the store "
        "it writes." + (f" {instead}" if instead else "")
    )


def _pose_model_path(name: str) -> str:
    import mediapipe

    return os.path.join(os.path.dirname(mediapipe.__file__), "modules", "pose_landmark", name)


def ensure_pose_model(model_complexity: int) -> None:
    """Make sure the pose model for ``model_complexity`` is installed, letting MediaPipe download it if it can.

    Raises MediaPipeMissingError without MediaPipe, ModelMissingError saying where to put the file when it is
    missing and cannot be downloaded.
    """
    if model_complexity not in (0, 1, 2):
        raise ValueError(f"model_complexity must be 0, 1 or 2, not {model_complexity}")
    require_mediapipe()
    name = POSE_MODEL_FILES.get(model_complexity)
    if name is None:
        return
    from mediapipe.python.solutions import download_utils

    path = _pose_model_path(name)
    try:
        download_utils.download_oss_model(f"mediapipe/modules/pose_landmark/{name}")
    except OSError as e:  # offline: URLError, or the package folder is read-only
        raise ModelMissingError(
            f"model complexity {model_complexity} needs MediaPipe's {name}, which is not installed and could not "
            f"be downloaded ({e}). Download {MODEL_URL}{name} on a machine with internet access and copy it to "
            f"{path} (on every machine that runs workers), or use --model-complexity 1, whose model ships with "
            "mediapipe."
        ) from e


@dataclass
class Landmarks:
    """One video's landmarks."""

    xyz: np.ndarray  # float32 [T, P, 3]
    conf: np.ndarray  # float32 [T, P]
    person: bool  # anything detected on any frame


class HolisticModel:
    """One MediaPipe Holistic graph, reused across videos; ``landmarks()`` gives each video a fresh graph."""

    def __init__(self, refine_face: bool = False, model_complexity: int = 1):
        ensure_pose_model(model_complexity)
        from mediapipe.python.solutions.holistic import Holistic

        self.layout: Layout = holistic(refine_face)
        self._parts = [(c.name, self.layout.component_slice(c.name)) for c in self.layout.components]
        self._solution = Holistic(
            static_image_mode=False, model_complexity=model_complexity, refine_face_landmarks=refine_face
        )
        self._fresh = True  # no frame seen since the graph (re)started

    def landmarks(self, frames) -> Landmarks:
        """Run the video's frames (RGB uint8 arrays, in order) through the graph.

        Each video starts on a graph that has seen no frame: in video mode MediaPipe tracks the person from frame
        to frame, and that state must not carry over from the previous video. The graph is new, or was reset
        at the end of the previous video: a reset restarts it, and the restart (about 110 ms of CPU) runs on the
        graph's own threads while the worker hands its result back and waits for its next video. A video that
        ended in an error has its reset at the start of the next one instead. The cheaper trick of feeding a
        blank frame instead (pose-format's) keeps the pose visibility smoothing's state, so the next video's
        confidences depend on the previous video (tests/extract/test_extract.py catches it).
        """
        if not self._fresh:
            self._solution.reset()
        self._fresh = False
        marks = self._landmarks(frames)
        self._solution.reset()
        self._fresh = True
        return marks

    def _landmarks(self, frames) -> Landmarks:
        xyz, conf = [], []
        person = False
        n = self.layout.n_points
        for rgb in frames:
            result = self._solution.process(rgb)
            frame_xyz = np.zeros((n, 3), dtype=np.float32)
            frame_conf = np.zeros(n, dtype=np.float32)
            for name, where in self._parts:
                found = getattr(result, f"{name.lower()}_landmarks")
                if found is None:
                    continue
                person = True
                points = found.landmark
                frame_xyz[where] = [(p.x, p.y, p.z) for p in points]
                frame_conf[where] = [p.visibility for p in points] if name == "POSE" else 1.0
            xyz.append(frame_xyz)
            conf.append(frame_conf)
        if not xyz:
            return Landmarks(np.zeros((0, n, 3), np.float32), np.zeros((0, n), np.float32), False)
        xyz_array, conf_array = np.stack(xyz), np.clip(np.stack(conf), 0.0, 1.0)
        unusable = ~np.isfinite(xyz_array).all(axis=-1)  # a non-finite coordinate counts as a missing point
        xyz_array[unusable], conf_array[unusable] = 0.0, 0.0
        return Landmarks(xyz_array, conf_array, person)

    def close(self) -> None:
        self._solution.close()
