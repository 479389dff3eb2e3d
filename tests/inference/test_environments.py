"""Across the two environments: a store extracted in the full one (MediaPipe, numpy 1.26) is trained on,
evaluated and exported in the core one (no MediaPipe, numpy 2), and the export translates a .pose file alike in
both. `make test` gives the core environment's python in MMPREP_CORE_PYTHON."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from helpers import train_args

pytestmark = pytest.mark.both_environments

CHECK_CORE = "import importlib.util, numpy; print(numpy.__version__, importlib.util.find_spec('mediapipe') is None)"


def core(*args) -> str:
    """Run ``python ARGS...`` in the core environment; its stdout."""
    done = subprocess.run([os.environ["MMPREP_CORE_PYTHON"], *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_store_extracted_here_is_trained_in_core_and_its_export_translates_a_pose_alike(video_run, cli, tmp_path):
    numpy_version, no_mediapipe = core("-c", CHECK_CORE).split()
    assert int(numpy_version.split(".")[0]) >= 2 and no_mediapipe == "True"  # really the other environment
    run, model, poses = tmp_path / "run", tmp_path / "model", tmp_path / "poses"
    core("-m", "prep", *train_args(video_run.store, run))
    core("-m", "prep", "eval", run, "--split", "dev", "--bootstrap", "10", "-q")
    core("-m", "prep", "export-model", run, "--out", model)
    core("-m", "prep", "export", "--format", "pose", "--ids", "c", "--out", poses, "--store", video_run.store)
    description = video_run.descriptions["c"]
    for text in (["--description", description], []):
        here, there = tmp_path / "full.jsonl", tmp_path / "core.jsonl"
        cli("translate", model, poses / "c.pose", *text, "--out", here, "-q")
        core("-m", "prep", "translate", model, poses / "c.pose", *text, "--out", there, "-q")
        (full,), (other,) = (
            [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()] for f in (here, there)
        )
        assert full["translation"] == other["translation"] and full["has_text"] == other["has_text"] == bool(text)
        assert full["text_norm_share"] == pytest.approx(other["text_norm_share"], rel=1e-5)
        assert full["confidence"] == pytest.approx(other["confidence"], rel=1e-5)
