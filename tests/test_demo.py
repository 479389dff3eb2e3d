"""scripts/demo.py (`make demo`): its last screen says what the run showed, from the evaluation's figures, and
asks only for options that exist. (The demo itself takes minutes: README.md gives its measured figures.)"""

from __future__ import annotations

import runpy
from pathlib import Path

from click.testing import CliRunner

from prep.analysis.answers import POSE_ONLY, Answer
from prep.cli import main
from prep.train.config import options

DEMO = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "demo.py"))


def evaluation(with_text: float, without_text: float) -> dict:
    return {"text_effect": {"n": 70, "ambiguous_accuracy": {"with_text": with_text, "without_text": without_text}}}


def against_pose_only(without_text: float, pose_only: float, ci: list[float]) -> Answer:
    return Answer(POSE_ONLY, "no", "", "good", {"without_text": without_text, "pose_only": pose_only, "ci": ci})


def test_the_last_screen_says_what_the_run_showed():
    run = DEMO["ROOT"] / "demo" / "run"
    screen = DEMO["last_screen"](run, evaluation(0.86, 0.53), 65.7, against_pose_only(49.3, 47.6, [-3.0, 6.1]))
    assert "best dev BLEU-4 66 out of 100" in screen and "right 86% of the time, without it 53%" in screen
    assert "so it reads the description" in screen and "as well as a model that never saw any" in screen
    assert "(BLEU-4 49 against 48, on the 70 test videos that have a description)" in screen
    assert "demo/run/report/report.html" in screen
    unread = DEMO["last_screen"](run, evaluation(0.56, 0.50), 20.0, against_pose_only(10.0, 30.0, [-28.0, -12.0]))
    assert "this run did not learn to read it" in unread and "so it reads" not in unread
    assert "worse than a model that never saw any" in unread


def test_the_demo_asks_for_options_that_exist():
    synth_help = CliRunner().invoke(main, ["synth", "--help"]).output
    assert all(f"--{key} " in synth_help for key in DEMO["SYNTH"])
    assert all(key.replace("-", "_") in options() for key in DEMO["TRAIN"])
