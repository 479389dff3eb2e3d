"""`mmprep inspect` and `mmprep render` on real extractions: the sample video, whose signer holds the camera in one
hand (that hand is never found, the other, blurred, in about a third of the frames), and a crop of it to the
head and shoulders, out of which the signing hand moves most of the time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import decode_rgb, write_video
from inspect_helpers import assert_same_figures, counted_figures, decode, distance, drawn_points

import prep
from prep.inspect.skeleton import COLOURS

pytestmark = pytest.mark.mediapipe

HEAD_AND_SHOULDERS = slice(40, 400)  # rows of the 720: from above the head to below the shoulders


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, sample_video) -> tuple[str, Path]:
    """The sample and its head-and-shoulders crop (540x360, re-encoded), extracted into one store."""
    work = tmp_path_factory.mktemp("real")
    videos = work / "videos"
    videos.mkdir()
    shutil.copy(sample_video, videos / "sample.mp4")
    write_video(videos / "cropped.mp4", [rgb[HEAD_AND_SHOULDERS] for rgb in decode_rgb(sample_video)])
    url = str(work / "real.zarr")
    from click.testing import CliRunner

    from prep.cli import main

    result = CliRunner().invoke(main, ["extract", str(videos), "--store", url, "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    return url, work


def test_the_crop_is_flagged_for_its_hands(extracted, cli):
    url, work = extracted
    cli("inspect", "--store", url, "--out", work / "inspect", "-q")
    report = json.loads((work / "inspect" / "inspect.json").read_text(encoding="utf-8"))
    videos = {v["id"]: v for v in report["videos"]}
    sample, cropped = videos["sample"], videos["cropped"]
    store = prep.open_store(url)
    for record in videos.values():
        assert_same_figures(record, counted_figures(store, record["id"]))
    # The sample: pose and face on every frame, the camera hand never, the signing hand in about a third.
    assert sample["found"]["POSE"] == sample["found"]["FACE"] == 1.0 and sample["found"]["LEFT_HAND"] == 0.0
    assert 0.2 < sample["found"]["RIGHT_HAND"] < 0.5
    assert sample["flags"] == ["hands_missing"]
    # The crop keeps the face and loses the hand more often still.
    assert cropped["found"]["FACE"] == 1.0 and "hands_missing" in cropped["flags"]
    assert cropped["no_hand"] > sample["no_hand"] + 0.1
    page = (work / "inspect" / "index.html").read_text(encoding="utf-8")
    assert "On a plain background" not in page  # both sources are there: drawn over the video


def test_render_draws_the_hand_where_it_was_found(extracted, tmp_path, cli, sample_video):
    """The clip has the source's frames and rate; at every point of the signing hand, on every frame it was
    found, the pixel is the hand's colour, not the video's."""
    url, _ = extracted
    out = tmp_path / "sample.mp4"
    cli("render", "sample", "--store", url, "--out", out, "-q")
    frames, rate = decode(out)
    source, source_rate = decode(sample_video)
    assert len(frames) == len(source) == 58 and abs(rate - source_rate) < 1e-6
    store = prep.open_store(url)
    xyz, conf = store.pose("sample")
    hand = store.layout.component_slice("RIGHT_HAND")
    checked = 0
    for t, (frame, original) in enumerate(zip(frames, source, strict=True)):
        for x, y in drawn_points(xyz[t], conf[t], list(range(hand.start, hand.stop)), (540, 720)):
            assert distance(frame[y, x], COLOURS["RIGHT_HAND"]) < 60, (t, x, y)
            assert distance(frame[y, x], COLOURS["RIGHT_HAND"]) < distance(original[y, x], COLOURS["RIGHT_HAND"])
            checked += 1
    assert checked >= 15 * 21  # the hand is found on about 20 frames
