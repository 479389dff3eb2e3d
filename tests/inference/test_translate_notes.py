"""What `mmprep translate` says beside a translation, with a run of the synth store and a .pose file (no MediaPipe)."""

from __future__ import annotations

import shutil

from helpers import FIXTURES

POSE = FIXTURES / "pose" / "example.pose"


def test_a_description_cut_at_the_encoders_length_is_said(trained_run, synth_store, tiny_mt5, tmp_path, cli):
    store = tmp_path / "short.zarr"  # the run's store, its descriptions encoded with at most 8 tokens
    shutil.copytree(synth_store, store)
    cli("encode-text", "--store", store, "--model", tiny_mt5, "--max-length", "8")
    long = "他穿着蓝色的衬衫，慢慢地打手语。一位女士在室内打手语。"
    output = cli("translate", trained_run, POSE, "--store", store, "--description", long, "-q").output
    assert "note: example: the description is longer than the 8 tokens the store's descriptions were encoded" in output
    short = cli("translate", trained_run, POSE, "--store", store, "--description", "我想学", "-q").output
    assert "the description is longer" not in short
