"""A tiny trained run on a store of real video: the sample, extracted by `mmprep extract` (with a stride, so that
translate must take the store's settings to match), with descriptions encoded by the tiny mT5, and evaluated."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import TINY_SENTENCES, train_args

from prep.cli import main
from prep.evaluate import InferenceMode, default_output

# Four copies of the sample: two train, two dev; one of each split has a description.
VIDEOS = {"a": ("train", TINY_SENTENCES[0]), "b": ("train", ""), "c": ("dev", TINY_SENTENCES[1]), "d": ("dev", "")}
TRANSLATIONS = {"a": "我想学习手语。", "b": "今天天气很好。", "c": "我想学习手语。", "d": "今天天气很好。"}


@dataclass
class VideoRun:
    run: Path
    store: str
    videos: Path  # the folder of the store's videos
    descriptions: dict[str, str]  # video id -> its description (the videos that have one)
    eval_report: Path  # `mmprep eval`'s dev report (missing-aware), in RUN/eval
    work: Path


def invoke(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def video_run(tmp_path_factory, sample_video, tiny_mt5) -> VideoRun:
    work = tmp_path_factory.mktemp("video-run")
    videos = work / "videos"
    videos.mkdir()
    for video_id in VIDEOS:
        shutil.copy(sample_video, videos / f"{video_id}.mp4")
    rows = [{"id": i, "split": s, "translation": TRANSLATIONS[i], "description": d} for i, (s, d) in VIDEOS.items()]
    manifest = work / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    store = str(work / "real.zarr")
    invoke("extract", videos, "--store", store, "--manifest", manifest, "--stride", "2", "--workers", "1", "-q")
    invoke("encode-text", "--store", store, "--model", tiny_mt5, "--keep-tokens")
    invoke("init-mask", "--store", store)
    run = work / "run"
    invoke(*train_args(store, run))
    invoke("eval", run, "--split", "dev", "--bootstrap", "10", "-q")  # into RUN/eval, where the model card looks
    report = default_output(run, "dev", InferenceMode())
    descriptions = {i: d for i, (_, d) in VIDEOS.items() if d}
    return VideoRun(run, store, videos, descriptions, report, work)
