"""`mmprep translate` and ``prep.Translator``: new videos translated as `mmprep eval` translated the store's."""

from __future__ import annotations

import json
import shutil

import pytest

from prep.errors import InputError
from prep.evaluate import InferenceMode, read
from prep.inference import Translator
from prep.inference.extraction import extraction_options
from prep.store import open_store

pytestmark = pytest.mark.mediapipe  # the run's store is extracted from the sample video (video_run)


def predictions(report) -> dict[str, dict]:
    return {v["id"]: v for v in read(report)[1]}


def assert_as_eval(record: dict, video: dict, scenario: str) -> None:
    suffix = "" if scenario == "A" else "_without_text"
    assert record["translation"] == video["hypothesis" + suffix]
    assert record["text_norm_share"] == pytest.approx(video["text_norm_share" + suffix], rel=1e-6)  # token fusion
    assert 0.0 < record["confidence"] <= 1.0


def test_the_store_settings_are_the_extraction_settings(video_run, synth_store):
    options, note = extraction_options(open_store(video_run.store))
    assert (options.stride, options.max_frames, options.refine_face, note) == (2, None, False, None)
    options, note = extraction_options(open_store(synth_store))  # synthetic poses: no settings on record
    assert options.stride == 1 and "defaults" in note


@pytest.mark.parametrize(
    ("mode", "beams"), [(InferenceMode(), 1), (InferenceMode("ensemble"), 1), (InferenceMode("conservative", 0.5), 2)]
)
def test_a_store_video_translates_as_eval_translated_it(video_run, mode, beams, tmp_path, cli):
    report = video_run.eval_report
    if mode != InferenceMode() or beams != 1:
        report = tmp_path / "dev.json"
        args = ["--mode", mode.name] + (["--alpha", mode.alpha] if mode.alpha is not None else [])
        cli("eval", video_run.run, "--split", "dev", "--beam", beams, "--bootstrap", 10, "--out", report, "-q", *args)
    videos = predictions(report)
    if mode == InferenceMode():
        assert videos["c"]["hypothesis"] != videos["c"]["hypothesis_without_text"]  # the description matters
    translator = Translator.from_run(video_run.run, mode=mode, beams=beams)
    for video_id, video in videos.items():
        description = video_run.descriptions.get(video_id)
        assert video["has_text"] == (description is not None)
        record = translator.translate(video_run.videos / f"{video_id}.mp4", description)
        assert record["has_text"] == video["has_text"] and record["mode"] == mode.name and record["beams"] == beams
        assert_as_eval(record, video, "A")
        if description is not None:  # without it: scenario B, the placeholder
            assert_as_eval(translator.translate(video_run.videos / f"{video_id}.mp4"), video, "B")


def test_translate_the_sample_video_with_and_without_a_description(video_run, sample_video, cli, tmp_path):
    videos = predictions(video_run.eval_report)  # c and d are copies of the sample: c with a description
    without = cli("translate", video_run.run, sample_video, "-q").stdout.strip()
    assert without == videos["d"]["hypothesis"].strip() == videos["c"]["hypothesis_without_text"].strip()
    described = cli("translate", video_run.run, sample_video, "--description", video_run.descriptions["c"], "-q")
    assert described.stdout.strip() == videos["c"]["hypothesis"].strip() != without  # stdout is stripped here
    out = tmp_path / "one.jsonl"
    cli("translate", video_run.run, sample_video, "--description", "  ", "--out", out, "-q")  # blank: no text
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["id"] == "signing" and record["source"] == str(sample_video.absolute())
    assert (
        record["has_text"] is False and record["mode"] == "missing-aware" and record["translation"].strip() == without
    )
    assert set(record) == {"id", "source", "translation", "has_text", "mode", "alpha", "factor", "beams",
                           "text_norm_share", "confidence"}  # fmt: skip


def test_a_folder_in_parallel_where_a_bad_video_fails_alone(video_run, cli, tmp_path):
    folder = tmp_path / "new"
    shutil.copytree(video_run.videos, folder / "clips")
    (folder / "clips" / "broken.mp4").write_bytes(b"not a video at all")
    descriptions = tmp_path / "descriptions.csv"
    descriptions.write_text(f"id,description\nclips/c,{video_run.descriptions['c']}\nother,unused\n", encoding="utf-8")
    out = tmp_path / "all.jsonl"
    result = cli("translate", video_run.run, folder, "--descriptions", descriptions, "--workers", 2, "--out", out,
                 expect=3)  # fmt: skip
    assert "clips/broken: failed:" in result.stderr and "1 of 5 video(s) failed" in result.stderr
    assert "1 id(s) of" in result.stderr  # the description of no video here
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(records) == {"clips/a", "clips/b", "clips/c", "clips/d", "clips/broken"}
    assert "not a video file FFmpeg can read" in records["clips/broken"]["error"]
    videos = predictions(video_run.eval_report)
    for video_id in ("c", "d"):
        assert_as_eval(records[f"clips/{video_id}"], videos[video_id], "A")
    assert records["clips/a"]["translation"] == records["clips/b"]["translation"] == videos["d"]["hypothesis"]


def test_a_pose_file_translates_as_the_video_it_came_from(video_run, cli, tmp_path):
    """A .pose file is a video whose keypoints are already extracted: the store's own, exported, translate as
    the video does (through a float32 round trip to pixels and back); a folder of them with --glob."""
    poses = tmp_path / "poses"
    cli("export", "--format", "pose", "--out", poses, "--ids", "c", "--ids", "d", "--store", video_run.store)
    description = video_run.descriptions["c"]
    translator = Translator.from_run(video_run.run)
    for text in (description, None):
        from_video = translator.translate(video_run.videos / "c.mp4", text)
        from_pose = translator.translate(poses / "c.pose", text)
        assert from_pose["translation"] == from_video["translation"] and from_pose["has_text"] == (text is not None)
        assert from_pose["text_norm_share"] == pytest.approx(from_video["text_norm_share"], rel=1e-4)
        assert from_pose["confidence"] == pytest.approx(from_video["confidence"], rel=1e-4)
    out = tmp_path / "poses.jsonl"
    cli("translate", video_run.run, poses, "--glob", "*.pose", "--out", out, "-q")
    records = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(records) == {"c", "d"} and records["c"]["source"] == str(poses / "c.pose")
    assert records["c"]["translation"] == translator.translate(video_run.videos / "c.mp4")["translation"]


def test_bad_requests_are_clear(video_run, sample_video, cli, tmp_path):
    result = cli("translate", video_run.run, video_run.videos, "--description", "x", expect=2)
    assert "--description is for one video; these are 4" in result.output
    with pytest.raises(InputError, match="no such video file"):
        Translator.from_run(video_run.run).translate(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="--mode conservative needs --alpha"):
        InferenceMode("conservative")
