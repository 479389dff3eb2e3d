"""pose-format's ``.pose`` files (versions 0.1 and 0.2) holding MediaPipe Holistic poses.

The binary format (little endian; a *str* is a uint16 byte count and UTF-8 bytes)::

    header  version float32 · width, height, depth uint16 · n_components uint16 · per component: name str,
            point format str ("XYZC"), n_points, n_limbs, n_colors uint16, the point names (str),
            the limbs (uint16 pairs), the colours (uint16 triples)
    body    0.2: fps float32, n_frames uint32, n_people uint16 · 0.1: fps uint16, n_frames uint16 (too small for
            long videos, so counted from the bytes left), n_people uint16; then
            data float32 [frames, people, points, dims] and confidence float32 [frames, people, points]

It is read and written here rather than through the pose-format package, which would make a video decoder
(PyAV) a runtime dependency for a hundred lines of struct packing; the tests check every file written here
with pose-format's own reader.

MediaPipe Holistic files name their components POSE_LANDMARKS, FACE_LANDMARKS, LEFT_HAND_LANDMARKS,
RIGHT_HAND_LANDMARKS (and often POSE_WORLD_LANDMARKS), with x, y in pixels, z as MediaPipe gives it and
confidences as in the store. Import maps points by name onto the store's layout (x / width, y / height) and
drops every other component; export writes those four components with pose-format's limbs.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import InputError, StoreError
from ..layout import FACE_POINTS, REFINED_FACE_POINTS, Layout, holistic, holistic_connections
from ..store import Store, VideoResult
from .base import ExportReport, Incoming, Loaded, Source, find_files, select_ids

VERSION = 0.2
POSE_SUFFIX = ".pose"
POINT_FORMAT = "XYZC"
# Store component -> .pose component, as pose-format's MediaPipe Holistic extraction names them.
COMPONENTS = {
    "POSE": "POSE_LANDMARKS",
    "FACE": "FACE_LANDMARKS",
    "LEFT_HAND": "LEFT_HAND_LANDMARKS",
    "RIGHT_HAND": "RIGHT_HAND_LANDMARKS",
}
# pose-format's colours for body and face; one colour per hand (pose-format cycles a palette over the points).
COLORS = {"POSE": (255, 0, 0), "FACE": (128, 0, 0), "LEFT_HAND": (0, 0, 192), "RIGHT_HAND": (0, 192, 0)}
MAX_UINT16 = 0xFFFF


class PoseFormatError(ValueError):
    """The bytes are not a .pose file this module can read, or hold no MediaPipe Holistic pose."""


@dataclass
class Component:
    name: str
    format: str
    points: list[str]
    limbs: list[tuple[int, int]]
    colors: list[tuple[int, int, int]]


@dataclass
class PoseFile:
    """One .pose file: header fields, ``data`` float32 [T, people, P, dims], ``confidence`` float32 [T, people, P]."""

    width: int
    height: int
    depth: int
    fps: float
    components: list[Component]
    data: np.ndarray
    confidence: np.ndarray
    version: float = VERSION


# ---------------------------------------------------------------------------------------------------- codec
class _Reader:
    def __init__(self, buffer: bytes):
        self.buffer = memoryview(buffer)
        self.offset = 0

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.buffer):
            raise PoseFormatError(f"the file ends early (byte {self.offset} of {len(self.buffer)}): truncated?")
        values = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += size
        return values

    def string(self) -> str:
        (length,) = self.unpack("<H")
        raw = bytes(self.buffer[self.offset : self.offset + length])
        if len(raw) != length:
            raise PoseFormatError(f"the file ends early (byte {self.offset} of {len(self.buffer)}): truncated?")
        self.offset += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PoseFormatError(f"a name in the header is not UTF-8 (byte {self.offset - length}): {e}") from None

    def pairs(self, count: int, width: int) -> list[tuple[int, ...]]:
        """``count`` tuples of ``width`` uint16 (limbs, colours), read at once."""
        size = 2 * count * width
        if self.offset + size > len(self.buffer):
            raise PoseFormatError(f"the file ends early (byte {self.offset} of {len(self.buffer)}): truncated?")
        values = np.frombuffer(self.buffer, dtype="<u2", count=count * width, offset=self.offset)
        self.offset += size
        return [tuple(v) for v in values.reshape(count, width).tolist()]

    def floats(self, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape))
        end = self.offset + 4 * count
        if end > len(self.buffer):
            raise PoseFormatError(
                f"the file ends early: the header announces {shape[0]} frames of {shape[2]} points, which need "
                f"{end} bytes, but it has {len(self.buffer)}: truncated?"
            )
        values = np.frombuffer(self.buffer, dtype="<f4", count=count, offset=self.offset).reshape(shape)
        self.offset = end
        return values.astype(np.float32)


def read_pose(buffer: bytes) -> PoseFile:
    """Parse a .pose file (0.1 or 0.2). Raises PoseFormatError saying what is wrong."""
    reader = _Reader(buffer)
    (version,) = reader.unpack("<f")
    version = round(version, 3)
    if version not in (0.1, 0.2):
        raise PoseFormatError(f"unknown .pose version {version} (mmprep reads 0.1 and 0.2): is it a .pose file?")
    width, height, depth = reader.unpack("<HHH")
    (n_components,) = reader.unpack("<H")
    components = []
    for _ in range(n_components):
        name, point_format = reader.string(), reader.string()
        n_points, n_limbs, n_colors = reader.unpack("<HHH")
        points = [reader.string() for _ in range(n_points)]
        limbs, colors = reader.pairs(n_limbs, 2), reader.pairs(n_colors, 3)
        components.append(Component(name, point_format, points, limbs, colors))
    if not components:
        raise PoseFormatError("the header lists no components")

    n_points = sum(len(c.points) for c in components)
    n_dims = max(len(c.format) for c in components) - 1
    if version == 0.2:
        (fps,) = reader.unpack("<f")
        (n_frames,) = reader.unpack("<I")
        (n_people,) = reader.unpack("<H")
    else:
        fps, _, n_people = reader.unpack("<HHH")
        frame_bytes = n_people * n_points * (n_dims + 1) * 4
        n_frames = (len(reader.buffer) - reader.offset) // frame_bytes if frame_bytes else 0
    data = reader.floats((n_frames, n_people, n_points, n_dims))
    confidence = reader.floats((n_frames, n_people, n_points))
    if reader.offset != len(reader.buffer):
        raise PoseFormatError(
            f"{len(reader.buffer) - reader.offset} bytes follow the {n_frames} frames the header announces"
        )
    return PoseFile(width, height, depth, float(fps), components, data, confidence, version)


def write_pose(pose: PoseFile) -> bytes:
    """The bytes of ``pose`` as a version 0.2 file."""

    def string(s: str) -> bytes:
        raw = s.encode("utf-8")
        return struct.pack("<H", len(raw)) + raw

    parts = [struct.pack("<fHHHH", VERSION, pose.width, pose.height, pose.depth, len(pose.components))]
    for c in pose.components:
        parts += [string(c.name), string(c.format), struct.pack("<HHH", len(c.points), len(c.limbs), len(c.colors))]
        parts += [string(p) for p in c.points]
        parts += [struct.pack("<HH", *limb) for limb in c.limbs]
        parts += [struct.pack("<HHH", *color) for color in c.colors]
    n_frames, n_people = pose.data.shape[:2]
    parts.append(struct.pack("<fIH", pose.fps, n_frames, n_people))
    parts.append(np.ascontiguousarray(pose.data, dtype="<f4").tobytes())
    parts.append(np.ascontiguousarray(pose.confidence, dtype="<f4").tobytes())
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------------- holistic
def float32_fps(fps: float) -> float:
    """The value a float32 fps field gives back, as the shortest decimal that rounds to it (29.97, not 29.969999)."""
    return float(str(np.float32(fps)))


def to_store(pose: PoseFile) -> tuple[Layout, np.ndarray, np.ndarray, list[str]]:
    """(layout, xyz float32 [T, P, 3] normalised to the frame, conf float32 [T, P], dropped component names).

    Points are taken by name, so any component order works; components other than the four Holistic ones
    (e.g. POSE_WORLD_LANDMARKS) are dropped."""
    by_name = {c.name: c for c in pose.components}
    missing = [name for name in COMPONENTS.values() if name not in by_name]
    if missing:
        found = ", ".join(by_name) or "none"
        raise PoseFormatError(
            f"not a MediaPipe Holistic pose: no {', '.join(missing)} component (found: {found}). mmprep imports "
            "the .pose files of pose-format's MediaPipe Holistic extraction."
        )
    face = by_name[COMPONENTS["FACE"]]
    if len(face.points) not in (FACE_POINTS, REFINED_FACE_POINTS):
        raise PoseFormatError(
            f"FACE_LANDMARKS has {len(face.points)} points; mmprep imports the full face mesh ({FACE_POINTS} points, "
            f"or {REFINED_FACE_POINTS} refined), not a reduced one"
        )
    layout = holistic(refine_face=len(face.points) == REFINED_FACE_POINTS)
    n_people = pose.data.shape[1]
    if n_people != 1:
        raise PoseFormatError(f"it holds {n_people} people per frame; mmprep keeps one person per video")
    if pose.width == 0 or pose.height == 0:
        raise PoseFormatError(
            f"its frame size is {pose.width}x{pose.height}, so pixel coordinates cannot be normalised"
        )

    flat, start = {}, 0
    for c in pose.components:
        flat.update({(c.name, p): start + i for i, p in enumerate(c.points)})
        start += len(c.points)
    index = []
    for component in layout.components:
        source = by_name[COMPONENTS[component.name]]
        if source.format != POINT_FORMAT:
            raise PoseFormatError(f"{source.name} has point format {source.format!r}; expected {POINT_FORMAT!r}")
        for point in component.points:
            if (source.name, point) not in flat:
                raise PoseFormatError(f"{source.name} has no point {point!r}; is it MediaPipe Holistic?")
            index.append(flat[(source.name, point)])

    xyz = pose.data[:, 0, index, :3].astype(np.float64)
    xyz[..., 0] /= pose.width
    xyz[..., 1] /= pose.height
    conf = pose.confidence[:, 0, index]
    if not (np.isfinite(xyz).all() and np.isfinite(conf).all()):
        raise PoseFormatError("it holds coordinates or confidences that are not finite (NaN or infinity)")
    if conf.size and (conf.min() < 0 or conf.max() > 1):
        raise PoseFormatError(f"its confidences range over [{conf.min():g}, {conf.max():g}]; expected [0, 1]")
    dropped = [c.name for c in pose.components if c.name not in COMPONENTS.values()]
    return layout, xyz.astype(np.float32), conf, dropped


def from_store(layout: Layout, xyz: np.ndarray, conf: np.ndarray, fps: float, width: int, height: int) -> PoseFile:
    """A .pose file of one video's poses in a Holistic layout: x, y in pixels, one person."""
    if [c.name for c in layout.components] != list(COMPONENTS):
        raise StoreError(f"only MediaPipe Holistic layouts can be written as .pose, not {layout.name!r}")
    if not (0 < width <= MAX_UINT16 and 0 < height <= MAX_UINT16):
        raise StoreError(f"a .pose header holds frame sizes from 1 to {MAX_UINT16}, not {width}x{height}")
    limbs = holistic_connections(refine_face=len(layout.components[1].points) == REFINED_FACE_POINTS)
    components = [
        Component(COMPONENTS[c.name], POINT_FORMAT, list(c.points), limbs[c.name], [COLORS[c.name]])
        for c in layout.components
    ]
    pixels = xyz.astype(np.float64)
    pixels[..., 0] *= width
    pixels[..., 1] *= height
    return PoseFile(width, height, 0, fps, components, pixels.astype(np.float32)[:, None], conf[:, None])


# ---------------------------------------------------------------------------------------------------- files
class PoseFiles(Source):
    """A .pose file, or every ``*.pose`` file under a folder; a file's id is its path under the folder without
    the suffix (``signer1/clip7.pose`` -> ``signer1/clip7``), as for videos. The fingerprint is the content hash."""

    def __init__(self, path: Path):
        self.path = path
        self.files, self.rejected = find_files(path, POSE_SUFFIX)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Incoming]:
        for video_id, file in self.files:
            try:
                content = file.read_bytes()
            except OSError as e:
                error = f"{file}: cannot read: {e.strerror or e}"
                yield Incoming({"id": video_id}, "", str(file), functools.partial(_raise, error))
                continue
            fingerprint = "sha256:" + hashlib.sha256(content).hexdigest()
            yield Incoming(
                {"id": video_id}, fingerprint, str(file.resolve()),
                functools.partial(_load_file, video_id, file, content, fingerprint),
            )  # fmt: skip


def _raise(message: str):
    raise InputError(message)


def is_pose_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == POSE_SUFFIX


def load_pose_file(video_id: str, file: Path) -> Loaded:
    """One .pose file read as `mmprep import` reads it (a video whose keypoints are already extracted).
    InputError, naming the file, when it cannot be read or is not a usable .pose file."""
    try:
        content = file.read_bytes()
    except OSError as e:
        raise InputError(f"{file}: cannot read: {e.strerror or e}") from None
    return _load_file(video_id, file, content, "sha256:" + hashlib.sha256(content).hexdigest())


def _load_file(video_id: str, file: Path, content: bytes, fingerprint: str) -> Loaded:
    try:
        pose = read_pose(content)
        layout, xyz, conf, dropped = to_store(pose)
        if pose.fps <= 0:
            raise PoseFormatError(f"its fps is {pose.fps}, so its frames cannot be timed")
        if xyz.shape[0] == 0:
            raise PoseFormatError("it holds no frames")
    except PoseFormatError as e:
        raise InputError(f"{file}: not a usable .pose file: {e}") from None
    n_frames, fps = xyz.shape[0], float32_fps(pose.fps)
    video = dict(n_frames=n_frames, fps=fps, width=pose.width, height=pose.height, source=str(file.resolve()),
                 fingerprint=fingerprint)  # fmt: skip
    if not conf.any():
        return Loaded(VideoResult(video_id, "no_person", **video), dropped=tuple(dropped))
    time = np.arange(n_frames) / fps
    result = VideoResult(video_id, "ok", xyz=xyz, conf=conf, time=time, **video)
    return Loaded(result, layout, tuple(dropped))


def export_pose(store: Store, out: Path, ids: list[str] | None = None) -> ExportReport:
    """Write one ``<out>/<id>.pose`` per ok video (all, or ``ids``); each file is replaced whole (written to a
    temporary name, then renamed), so an interrupted export leaves no half-written file."""
    report = ExportReport()
    layout = store.layout
    uneven = 0
    for video_id in tqdm(select_ids(store, ids), unit="video", desc="export", disable=None):
        video = store.video(video_id)
        if video["status"] != "ok":
            report.skipped[video["status"]] = report.skipped.get(video["status"], 0) + 1
            continue
        xyz, conf = store.pose(video_id)
        time = store.timestamps(video_id)
        fps = float32_fps(video["fps"])
        if not np.allclose(time, np.arange(len(time)) / fps, rtol=0, atol=1e-3):
            uneven += 1
        pose = from_store(layout, xyz, conf, fps, video["width"], video["height"])
        target = out / f"{video_id}.pose"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(write_pose(pose))
        os.replace(partial, target)
        report.written += 1
        report.frames += len(time)
    if uneven:
        report.notes.append(
            f"{uneven} video(s) have frame times that are not frame/fps; .pose keeps only the fps, so their "
            "exact frame times are not in the files (the h5 format keeps them)"
        )
    return report
