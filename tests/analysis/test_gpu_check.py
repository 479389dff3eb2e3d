"""scripts/gpu_check.py, the first thing to run on a GPU machine, kept working by its --tiny mode on the CPU."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = str(Path(__file__).parents[2] / "scripts" / "gpu_check.py")


def test_tiny_runs_every_step_and_prints_one_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", "--tiny", "--out", str(tmp_path)])
    runpy.run_path(SCRIPT, run_name="__main__")
    table = capsys.readouterr().out
    for step in ("encode-text", "train", "eval", "translate", "export-model"):
        assert f"| {step} |" in table
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert results["encode_text"]["descriptions"] == 6 and results["encode_text"]["per_second"] > 0  # 24 x 0.25
    assert results["train"]["steps"] == 2 and results["train"]["finite"]
    assert results["eval"]["videos"] == 2 and results["export_same_translations"]
    assert results["translate_beam1"] > 0 and results["translate_beam4"] > 0
    assert not (tmp_path / "mt5").exists() and not (tmp_path / "run").exists()  # GBs at the real size: deleted


def test_without_a_gpu_it_says_to_use_tiny(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["gpu_check.py"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(SCRIPT, run_name="__main__")
    assert stopped.value.code == 1 and "--tiny runs the same steps on the CPU" in capsys.readouterr().err
