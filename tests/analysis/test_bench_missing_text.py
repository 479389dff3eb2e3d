"""scripts/bench_missing_text.py's comparison with a baseline benchmark: differences paired by seed."""

from __future__ import annotations

import argparse
import json
import runpy
from pathlib import Path

import pytest

BENCH = runpy.run_path(str(Path(__file__).parents[2] / "scripts" / "bench_missing_text.py"))


def result(seed: int, a: float, b: float, pose_only: float, accuracy_a: float, settings=()) -> dict:
    return {
        "store": {"videos": 1200, "seed": seed},
        "settings": list(settings),
        "pose_only_ceiling": 55.0 + seed,
        "with_text_ceiling": 90.0 - seed,
        "pose_only_bleu4": pose_only,
        "bleu4_with_text_A": a,
        "bleu4_with_text_B": b,
        "ambiguous_accuracy_A": accuracy_a,
        "ambiguous_accuracy_B": 0.5,
        "pose_only_ambiguous_accuracy": 0.5,
        "bleu4_all_A": a,
        "pose_only_bleu4_all": pose_only,
    }


def test_against_pairs_every_figure_by_seed_and_leaves_the_ceilings_out():
    baseline = [result(0, 70.0, 45.0, 44.0, 0.80), result(1, 60.0, 40.0, 41.0, 0.70), result(2, 80.0, 50.0, 47.0, 0.9)]
    new = [result(0, 74.0, 46.0, 44.0, 0.86), result(1, 63.0, 40.0, 41.0, 0.75), result(2, 82.0, 47.0, 47.0, 0.9)]
    compared = BENCH["against"](new, baseline)
    assert compared["per_seed"]["bleu4_with_text_A"] == [4.0, 3.0, 2.0]
    assert compared["per_seed"]["B_minus_pose_only"] == [1.0, 0.0, -3.0]  # (B - pose-only) new minus baseline
    assert compared["per_seed"]["A_over_with_text_ceiling"] == pytest.approx([4 / 90, 3 / 89, 2 / 88])
    assert compared["metrics"]["bleu4_with_text_A"]["mean"] == pytest.approx(3.0)
    low, high = compared["metrics"]["bleu4_with_text_A"]["ci"]
    assert low == pytest.approx(3.0 - 4.303 * 1.0 / 3**0.5, abs=1e-3) and high > 3.0  # t(2) = 4.303, sd 1
    assert "with_text_ceiling" not in compared["metrics"] and "pose_only_ceiling" not in compared["metrics"]
    assert compared["metrics"]["pose_only_bleu4"] == {"mean": 0.0, "ci": [0.0, 0.0]}


def test_against_refuses_a_baseline_made_on_other_stores():
    with pytest.raises(SystemExit, match="store"):
        BENCH["against"]([result(0, 1.0, 1.0, 1.0, 0.5)], [{**result(0, 1.0, 1.0, 1.0, 0.5), "store": {"seed": 1}}])


@pytest.mark.parametrize(("settings", "epochs", "model_linked"), [
    ([], 100, True),  # the baseline's training: its model is reused, only the evaluations run (e.g. --beam 4)
    (["lr=0.001"], 100, False),
    ([], 50, False),
])  # fmt: skip
def test_a_baseline_model_is_reused_only_when_it_was_trained_the_same_way(tmp_path, settings, epochs, model_linked):
    store = {name: 0 for name in BENCH["STORE_OPTIONS"]}  # seed 0 among them
    source = tmp_path / "baseline" / "seed-0"
    source.mkdir(parents=True)
    (source / "results.json").write_text(json.dumps({"store": store, "settings": [], "epochs": 100}))
    args = argparse.Namespace(baseline=tmp_path / "baseline", set=settings, epochs=epochs, **store)
    out = tmp_path / "new"
    out.mkdir()
    BENCH["link_baseline"](args, out)
    assert (out / "pose-only").resolve() == source / "pose-only" and (out / "synth.zarr").is_symlink()
    assert (out / "model").is_symlink() == model_linked


def test_an_interrupted_training_continues_from_its_last_checkpoint_and_one_without_any_starts_again(tmp_path):
    store, options = tmp_path / "synth.zarr", ["--seed", "0"]
    run = tmp_path / "model"
    assert BENCH["training_words"](run, store, options) == ["--store", store, "--out", run, "--seed", "0", "-q"]
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best.pt").write_bytes(b"")  # a best checkpoint alone: stopped before the first last.pt
    assert BENCH["training_words"](run, store, options)[:2] == ["--store", store] and not run.exists()
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    assert BENCH["training_words"](run, store, options) == ["--resume", run, "-q"]


def test_the_summary_pairs_the_model_with_the_pose_only_one_on_the_with_text_and_on_all_videos():
    results = [{**result(0, 70.0, 45.0, 44.0, 0.8), "bleu4_all_A": 60.0, "pose_only_bleu4_all": 50.0}]
    columns = BENCH["figures"](results)
    assert columns["A_minus_pose_only"] == [26.0] and columns["all_A_minus_pose_only"] == [10.0]
    assert columns["kl_with_text"] == [None]  # a results.json from before the figure was recorded


def test_scenario_c_and_the_hallucination_rates_are_summarised_and_compared():
    with_c = [{**result(s, 70.0 + s, 45.0, 44.0, 0.8), "bleu4_with_text_C": 40.0 + s, "hallucination_rate_A": 0.01,
               "hallucination_rate_C": 0.02 * s} for s in range(3)]  # fmt: skip
    columns = BENCH["figures"](with_c)
    assert columns["A_minus_C"] == [30.0, 30.0, 30.0] and columns["C_minus_B"] == [-5.0, -4.0, -3.0]
    assert columns["hallucination_rate_C"] == [0.0, 0.02, 0.04]
    assert BENCH["summarize"](with_c)["metrics"]["C_minus_B"]["mean"] == pytest.approx(-4.0)
    # a benchmark made before scenario C existed: its figures are missing, not zero, and the rest still pairs
    before = [result(s, 70.0, 45.0, 44.0, 0.8) for s in range(3)]
    compared = BENCH["against"](with_c, before)
    assert compared["metrics"]["A_minus_C"] == {"mean": None, "ci": None}
    assert compared["per_seed"]["bleu4_with_text_A"] == [0.0, 1.0, 2.0]
    # without the pose-only baseline (--skip-pose-only) its figures are missing too
    alone = [{**r, "pose_only_bleu4": None, "pose_only_bleu4_all": None, "pose_only_ambiguous_accuracy": None}
             for r in with_c]  # fmt: skip
    assert BENCH["summarize"](alone)["metrics"]["B_minus_pose_only"] == {"mean": None, "ci": None}


def test_stores_made_before_the_description_options_pair_with_their_defaults(tmp_path):
    old = {name: 0 for name in BENCH["STORE_OPTIONS"] if name not in BENCH["STORE_DEFAULTS"]}
    source = tmp_path / "baseline" / "seed-0"
    source.mkdir(parents=True)
    (source / "results.json").write_text(json.dumps({"store": old, "settings": [], "epochs": 100}))
    now = {**old, **BENCH["STORE_DEFAULTS"]}
    BENCH["link_baseline"](argparse.Namespace(baseline=tmp_path / "baseline", set=[], epochs=100, **now), tmp_path)
    assert (tmp_path / "synth.zarr").is_symlink()
    other = argparse.Namespace(baseline=tmp_path / "baseline", set=[], epochs=100, **{**now, "text_distractors": 2})
    with pytest.raises(SystemExit, match="other store options"):
        BENCH["link_baseline"](other, tmp_path / "x")
    assert BENCH["text_ratio"]("0.2") == 0.2 and BENCH["text_ratio"]("0.03,0.2,.2") == "0.03,0.2,0.2"
    with pytest.raises(argparse.ArgumentTypeError, match="three"):
        BENCH["text_ratio"]("0.1,0.2")
