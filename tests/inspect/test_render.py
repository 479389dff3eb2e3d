"""`mmprep render`: a skeleton drawn frame by frame, read back pixel by pixel, in the core environment (stores and
files built without extraction; tests/inspect/test_real_video.py renders an extraction of the sample)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES
from inspect_helpers import decode, distance, drawn_points
from PIL import Image

import prep
from prep.extract.decode import VideoReader
from prep.extract.videos import fingerprint
from prep.inspect.drawing import BACKGROUND
from prep.inspect.skeleton import COLOURS
from prep.interop.pose_format import load_pose_file
from prep.layout import coco_wholebody, holistic

EXAMPLE = FIXTURES / "pose" / "example.pose"  # 97 frames at 25 fps, 320x240, both hands in about half of them


def hand_columns(layout, hand: str) -> list[int]:
    return list(range(layout.component_slice(hand).start, layout.component_slice(hand).stop))


def test_a_pose_file_on_a_plain_background(tmp_path, cli):
    """Every frame of the file, at its rate; each hand point found is drawn in its hand's colour where it is,
    and most of the frame stays the background."""
    out = tmp_path / "example.mp4"
    assert "97 frames at 25.000 fps, 320x240" in cli("render", EXAMPLE, "--out", out).output
    frames, rate = decode(out)
    assert len(frames) == 97 and rate == 25.0 and frames[0].shape == (240, 320, 3)
    loaded = load_pose_file("example", EXAMPLE)
    xyz, conf, layout = loaded.result.xyz, loaded.result.conf, loaded.layout
    checked = 0
    for t, frame in enumerate(frames):
        for hand in ("LEFT_HAND", "RIGHT_HAND"):
            for x, y in drawn_points(xyz[t], conf[t], hand_columns(layout, hand), (320, 240)):
                # H.264 keeps colour at half resolution: small dots come back near, not at, their colour.
                assert distance(frame[y, x], COLOURS[hand]) < distance(frame[y, x], BACKGROUND), (t, hand)
                checked += 1
        assert (np.abs(frame.astype(int) - BACKGROUND).max(axis=2) < 16).mean() > 0.6, t
    assert checked > 1000  # both hands on about half of the 97 frames


def test_a_gif_keeps_the_colours(tmp_path, cli):
    out = tmp_path / "example.gif"
    cli("render", EXAMPLE, "--out", out, "-q")
    with Image.open(out) as gif:
        assert gif.n_frames == 97 and gif.info["duration"] == 40  # 25 fps
    frames, _ = decode(out)
    loaded = load_pose_file("example", EXAMPLE)
    right = hand_columns(loaded.layout, "RIGHT_HAND")
    t = int(np.flatnonzero(loaded.result.conf[:, right].max(axis=1) > 0)[0])
    points = list(drawn_points(loaded.result.xyz[t], loaded.result.conf[t], right, (320, 240)))
    assert points and all(distance(frames[t][y, x], COLOURS["RIGHT_HAND"]) < 30 for x, y in points)


@pytest.fixture
def sample_store(tmp_path, sample_video) -> tuple[str, list[np.ndarray], Path]:
    """A store of the sample video as if extracted with --stride 2 (29 frames, the source's timestamps), built by
    hand: a right hand at random places on every frame, nothing else. Returns the store, the source's frames,
    and the source (a copy)."""
    source = tmp_path / "signing.mp4"
    shutil.copy(sample_video, source)
    with VideoReader(str(source)) as reader:
        fps, decoded = reader.fps, list(reader.frames())
    times = np.array([f.time for f in decoded])[::2]
    layout, n = holistic(), len(times)
    rng = np.random.default_rng(0)
    xyz, conf = np.zeros((n, layout.n_points, 3), np.float32), np.zeros((n, layout.n_points), np.float32)
    hand = layout.component_slice("RIGHT_HAND")
    xyz[:, hand, :2] = rng.uniform(0.1, 0.3, (n, 21, 2))
    conf[:, hand] = 1
    url = str(tmp_path / "sample.zarr")
    with prep.open_store(url, mode="a") as store:
        store.set_layout(layout)
        store.upsert_rows([{"id": "signing"}])
        store.commit_videos([prep.VideoResult(
            "signing", "ok", n_frames=n, fps=fps, width=540, height=720, source=str(source),
            fingerprint=fingerprint(str(source), "stride=2,max_frames=all,complexity=1"), xyz=xyz, conf=conf, time=times,
        )])  # fmt: skip
    return url, [f.rgb for f in decoded], source


def test_over_the_source_video_each_frame_is_its_own(sample_store, tmp_path, cli):
    """Drawn over the video the store names, frame j over source frame 2j (stride 2, matched by timestamp):
    away from the hand it is that frame, not its neighbours; at the hand points, the hand's colour."""
    url, source, _ = sample_store
    out = tmp_path / "over.mp4"
    result = cli("render", "signing", "--store", url, "--out", out, "-q")
    assert "plain background" not in result.output
    frames, rate = decode(out)
    store = prep.open_store(url)
    assert len(frames) == 29 and abs(rate - store.video("signing")["fps"]) < 1e-6
    xyz, conf = store.pose("signing")
    away = np.ones((720, 540), bool)
    away[: int(0.3 * 720) + 20, : int(0.3 * 540) + 20] = False  # the hand's points are in this corner
    for j, frame in enumerate(frames):
        differs = {k: np.abs(frame.astype(int) - source[k])[away].mean() for k in (2 * j - 1, 2 * j, 2 * j + 1)
                   if 0 <= k < len(source)}  # fmt: skip
        assert differs[2 * j] < 3 and differs[2 * j] == min(differs.values()), (j, differs)
        for x, y in drawn_points(xyz[j], conf[j], hand_columns(store.layout, "RIGHT_HAND"), (540, 720)):
            assert distance(frame[y, x], COLOURS["RIGHT_HAND"]) < 60, (j, x, y, frame[y, x])
    plain = tmp_path / "plain.mp4"
    cli("render", "signing", "--store", url, "--out", plain, "--no-over-video", "-q")
    corner = decode(plain)[0][0][700:, 500:]  # far from the hand: the background, not the video
    assert np.abs(corner.astype(int) - BACKGROUND).max() < 8


def test_a_changed_source_is_not_drawn_over(sample_store, tmp_path, cli):
    url, _, source = sample_store
    source.write_bytes(source.read_bytes()[:-1000])  # no longer the file that was extracted
    result = cli("render", "signing", "--store", url, "--out", tmp_path / "changed.mp4", "-q")
    assert f"drawn on a plain background: its source {source} has changed since it was extracted" in result.output
    source.unlink()
    result = cli("render", "signing", "--store", url, "--out", tmp_path / "gone.mp4", "-q")
    assert f"its source {source} is not reachable from here" in result.output


def test_a_frame_folder_is_drawn_over_too(tmp_path, sample_rgb, cli):
    """A folder of frames (as CSL-Daily and PHOENIX ship videos), read with Pillow: frame i of the folder under
    stored frame i; a point drawn over it in the hand's colour."""
    from prep.extract.frame_folder import folder_fingerprint

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, rgb in enumerate(sample_rgb[:12]):
        Image.fromarray(rgb).save(folder / f"{i + 1}.png")
    layout, n = holistic(), 12
    xyz, conf = np.zeros((n, layout.n_points, 3), np.float32), np.zeros((n, layout.n_points), np.float32)
    wrist = layout.component_slice("LEFT_HAND").start
    xyz[:, wrist, :2], conf[:, wrist] = 0.5, 1
    url = str(tmp_path / "folder.zarr")
    with prep.open_store(url, mode="a") as store:
        store.set_layout(layout)
        store.upsert_rows([{"id": "frames"}])
        store.commit_videos([prep.VideoResult(
            "frames", "ok", n_frames=n, fps=25.0, width=540, height=720, source=str(folder), xyz=xyz, conf=conf,
            fingerprint=folder_fingerprint(str(folder), "stride=1,max_frames=all,complexity=1", 25.0),
            time=np.arange(n) / 25.0,
        )])  # fmt: skip
    out = tmp_path / "frames.mp4"
    assert "plain background" not in cli("render", "frames", "--store", url, "--out", out, "-q").output
    frames, rate = decode(out)
    assert len(frames) == n and rate == 25.0
    for j, frame in enumerate(frames):
        differs = [np.abs(frame[:300].astype(int) - rgb[:300]).mean() for rgb in sample_rgb[:n]]
        assert int(np.argmin(differs)) == j or differs[j] < 3, (j, differs)
        assert distance(frame[360, 270], COLOURS["LEFT_HAND"]) < 60


def test_coco_wholebody_draws_hands_and_body(tmp_path, cli):
    """A COCO-WholeBody store (the layout of Uni-Sign's poses): the sample .pose file's body and hand points put
    into it by name; its hands are drawn in their colours and its shoulders joined in the pose's colour."""
    loaded = load_pose_file("example", EXAMPLE)
    source, names = loaded.layout.point_names, coco_wholebody().point_names
    take = [source.index(name) if name in source else -1 for name in names]
    xyz = np.where(np.array(take)[None, :, None] >= 0, loaded.result.xyz[:, take], 0).astype(np.float32)
    conf = np.where(np.array(take)[None] >= 0, loaded.result.conf[:, take], 0).astype(np.float32)
    url = str(tmp_path / "wholebody.zarr")
    with prep.open_store(url, mode="a") as store:
        store.set_layout(coco_wholebody())
        store.upsert_rows([{"id": "example"}])
        store.commit_videos([prep.VideoResult("example", "ok", n_frames=len(xyz), fps=25.0, width=320, height=240,
                                              xyz=xyz, conf=conf, time=np.arange(len(xyz)) / 25)])  # fmt: skip
    out = tmp_path / "wholebody.gif"
    assert "on a plain background" in cli("render", "example", "--store", url, "--out", out, "-q").output
    frames, _ = decode(out)
    layout = coco_wholebody()
    t = int(np.flatnonzero(conf[:, hand_columns(layout, "LEFT_HAND")].max(axis=1) > 0)[0])
    points = list(drawn_points(xyz[t], conf[t], hand_columns(layout, "LEFT_HAND"), (320, 240)))
    assert points and all(distance(frames[t][y, x], COLOURS["LEFT_HAND"]) < 30 for x, y in points)
    left, right = (names.index(f"POSE.{side}_SHOULDER") for side in ("LEFT", "RIGHT"))
    x, y = ((xyz[t, left, :2] + xyz[t, right, :2]) / 2 * [320, 240]).astype(int)
    around = frames[t][y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3)  # the bone between them, 2 pixels wide
    assert min(distance(pixel, COLOURS["POSE"]) for pixel in around) < 30
    report = tmp_path / "report"
    cli("inspect", "--store", url, "--out", report, "-q")
    assert "FEET" in (report / "inspect.json").read_text()


def test_bad_requests_say_what_to_do(tmp_path, cli, imported_store_url):
    missing = cli("render", "nobody", "--store", imported_store_url, "--out", tmp_path / "x.mp4", expect=1).output
    assert "no video 'nobody'" in missing and "Traceback" not in missing
    suffix = cli("render", EXAMPLE, "--out", tmp_path / "x.avi", expect=1).output
    assert "render writes .mp4 or .gif files, not .avi" in suffix and not (tmp_path / "x.avi").exists()
    absent = cli("render", tmp_path / "none.pose", "--out", tmp_path / "x.mp4", expect=1).output
    assert "no such .pose file" in absent


@pytest.fixture
def imported_store_url(tmp_path, cli) -> str:
    url = str(tmp_path / "imported.zarr")
    cli("import", EXAMPLE, "--store", url)
    return url
