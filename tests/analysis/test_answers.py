"""The report's two answers, on evaluations whose answer is known: the verdict follows the interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prep.analysis.answers import against_pose_only, main_evaluation, uses_description
from prep.errors import InputError
from prep.train.config import resolve
from prep.train.run_dir import write_config

REFERENCES = [f"我们{w}今天去学校" for w in "一二三四五六七八九十"]


def effect(ci, changed=5, n=10) -> dict:
    return {"n": n, "ci": ci, "outputs_changed": changed, "ignores_text": changed == 0,
            "statement": f"the description changes {changed} of {n} outputs"}  # fmt: skip


def report(split="test", mode="missing-aware", beams=1, text_effect=None) -> dict:
    return {"split": split, "mode": mode, "alpha": None, "factor": None, "beams": beams, "text_effect": text_effect,
            "sacrebleu": {"tokenize": "zh"}, "bootstrap": {"resamples": 200, "seed": 0}}  # fmt: skip


@pytest.mark.parametrize(
    ("ci", "changed", "verdict", "tone"),
    [([3.0, 9.0], 5, "yes", "good"), ([-2.0, 9.0], 5, "not shown", "open"), ([-9.0, -1.0], 5, "yes, to its cost",
     "bad"), ([0.0, 0.0], 0, "no", "bad")],
)  # fmt: skip
def test_uses_the_description_when_the_interval_is_above_zero(ci, changed, verdict, tone):
    answer = uses_description(report(text_effect=effect(ci, changed)))
    assert (answer.verdict, answer.tone) == (verdict, tone)
    assert "on the 10 test videos that have one" in answer.text
    assert uses_description(report(split="dev")).verdict == "cannot tell"


def test_the_main_evaluation_is_missing_aware_greedy_and_held_out():
    evaluations = [(Path(f"{i}.json"), r, []) for i, r in enumerate([
        report("dev"), report("test", mode="ensemble"), report("test", beams=4), report("test"), report("train"),
    ])]  # fmt: skip
    assert main_evaluation(evaluations)[0] == Path("3.json")
    assert main_evaluation(evaluations[:1] + evaluations[4:])[0] == Path("0.json")
    assert main_evaluation([]) is None


def write_run(folder: Path, text_dropout: str, hypotheses: list[str], split="test") -> Path:
    """A run directory with a config.toml and an evaluation whose scenario B says ``hypotheses``."""
    (folder / "eval").mkdir(parents=True)
    write_config(folder, resolve({}, {"text_dropout": text_dropout}))
    (folder / "eval" / f"{split}-missing-aware.json").write_text(json.dumps(report(split)), encoding="utf-8")
    videos = [{"id": f"v{i}", "has_text": True, "reference": r, "hypothesis": r, "hypothesis_without_text": h}
              for i, (r, h) in enumerate(zip(REFERENCES, hypotheses, strict=True))]  # fmt: skip
    lines = "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in videos)
    (folder / "eval" / f"{split}-missing-aware.predictions.jsonl").write_text(lines, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("ours", "theirs", "verdict", "words"),
    [
        ("half", "right", "yes", "loses without it"),
        ("right", "half", "no", "better even without"),
        ("right", "right", "no", "no measurable difference"),
    ],
)
def test_worse_than_the_pose_only_model_only_when_the_interval_is_below_zero(tmp_path, ours, theirs, verdict, words):
    said = {"right": REFERENCES, "half": [r[:5] for r in REFERENCES]}
    run = write_run(tmp_path / "run", "0.3", said[ours])
    pose_only = write_run(tmp_path / "pose-only", "1.0", said[theirs])
    main = (run / "eval" / "test-missing-aware.json", report(), [
        json.loads(line) for line in (run / "eval" / "test-missing-aware.predictions.jsonl").read_text().splitlines()
    ])  # fmt: skip
    answer = against_pose_only(run, main, pose_only)
    assert answer.verdict == verdict and words in answer.text
    assert "on the 10 test videos that have a description" in answer.text


def test_no_pose_only_model_says_what_to_run_and_a_wrong_one_is_refused(tmp_path):
    run = write_run(tmp_path / "run", "0.3", REFERENCES)
    main = (run / "eval" / "test-missing-aware.json", report(), [])
    answer = against_pose_only(run, main, None)
    assert answer.verdict == "not measured"
    assert f"--out {run}-pose-only --text-dropout 1.0" in answer.text and "--pose-only" in answer.text
    with pytest.raises(InputError, match=r"not a pose-only run: its text dropout is 0\.3"):
        against_pose_only(run, main, run)
    unevaluated = tmp_path / "unevaluated"
    unevaluated.mkdir()
    write_config(unevaluated, resolve({}, {"text_dropout": "1.0"}))
    answer = against_pose_only(run, main, unevaluated)
    assert answer.verdict == "not measured" and f"mmprep eval {unevaluated} --split test" in answer.text
