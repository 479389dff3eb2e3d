"""scripts/collect_ablation.py: every setting paired by seed against the pose-only model and the default."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

COLLECT = runpy.run_path(str(Path(__file__).parents[2] / "scripts" / "collect_ablation.py"))


def row(setting: str, seed: int, a: float, b: float, pose_only: float, pairs_a: float = 0.8) -> dict:
    return {"setting": setting, "seed": seed, "bleu4_with_text_A": a, "bleu4_with_text_B": b,
            "pose_only_bleu4": pose_only, "with_text_ceiling": 90.0, "ambiguous_accuracy_A": pairs_a,
            "ambiguous_accuracy_B": 0.5, "bleu4_all_A": a - 10, "pose_only_bleu4_all": pose_only - 5,
            "with_text_kl": 0.1, "mask_moved": None}  # fmt: skip


def test_each_setting_is_paired_by_seed_with_the_pose_only_model_and_the_default():
    settings = {
        "default": [row("default", 0, 70.0, 45.0, 44.0), row("default", 1, 60.0, 41.0, 41.0)],
        # one seed finished
        "placeholder-raw-zero": [row("placeholder-raw-zero", 1, 63.0, 40.0, 41.0, 0.9) | {"with_text_kl": 0.08}],
    }
    default, raw_zero = COLLECT["summarize"](settings)
    assert default["A - P"] == "22.5 [-22.0, 67.0]"  # 26 and 19: t(1) = 12.71, sd 4.95
    assert default["A - default"] == "(the default)"
    assert raw_zero["seeds"] == "1" and raw_zero["A - default"] == "+3.0"  # seed 1 against seed 1, not the mean
    assert raw_zero["B - default"] == "-1.0" and raw_zero["pairs A - default"] == "+0.10"
    assert raw_zero["B - P"] == "-1.0" and raw_zero["all videos A - P"] == "17.0" and raw_zero["mask moved"] == "n/a"
    assert raw_zero["KL - default"] == "-0.020"  # the consistency figure paired too


def test_a_difference_needs_the_same_seed_on_both_sides():
    rows = [row("x", 0, 70.0, 45.0, 44.0), row("x", 2, 50.0, 45.0, 44.0)]
    reference = {0: row("default", 0, 60.0, 40.0, 44.0)}
    assert COLLECT["differences"](rows, reference, "bleu4_with_text_A") == [10.0]
    with pytest.raises(SystemExit, match="no finished seed"):
        COLLECT["collect"](Path(__file__).parent, Path("unused"))  # no default folder there


def test_the_curves_are_read_at_the_epochs_the_design_names_with_the_jitter_of_the_second_half():
    steps = [{"epoch": e, "loss": 10.0 / e, "text_norm_share_without_text": 0.5 / e} for e in range(1, 21)]
    steps += [{"epoch": 21, "loss": 0.5 + 0.1 * (i % 2), "text_norm_share_without_text": None} for i in range(20)]
    shape = COLLECT["curve_shape"](steps)
    assert shape["loss_epoch_5"] == 2.0 and shape["loss_epoch_15"] == pytest.approx(10 / 15)
    assert shape["loss_last_epoch"] == pytest.approx(0.55)
    assert shape["loss_jitter"] == pytest.approx(0.1 / 2**0.5, rel=0.05)  # changes of +-0.1 in the second half
    assert (
        shape["text_norm_share_without_text_epoch_5"] == 0.1
        and shape["text_norm_share_without_text_last_epoch"] is None
    )
    assert "gate_opening_without_text_epoch_5" not in shape  # the statistic of the run's own fusion only
    assert COLLECT["text_weight"]({"gate_opening_without_text_epoch_5": 0.2}, "without_text_epoch_5") == 0.2


def earlier_collection(folder: Path, default_a: float) -> Path:
    """An earlier OUT: a default and a trained setting on seeds 0 and 1, as collect wrote them."""
    rows = [row("default", s, default_a + s, 45.0, 44.0) for s in (0, 1)]
    rows += [row("raw-zero", s, 60.0 + s, 44.0, 44.0) | {"verdict": "content_misled"} for s in (0, 1)]
    COLLECT["write_csv"](folder / "results.csv", rows)
    record = {"options": ["placeholder=raw-zero"], "epochs": 100, "seeds": [0, 1], "trained": True}
    ablation = {"store": {"videos": 1200}, "settings": {"default": record | {"options": []}, "raw-zero": record}}
    (folder / "ablation.json").write_text(COLLECT["json"].dumps(ablation), encoding="utf-8")
    return folder


def test_an_earlier_collections_settings_are_carried_when_its_default_is_reproduced(tmp_path):
    previous = earlier_collection(tmp_path, 70.0)
    settings = {"default": [row("default", 0, 70.0, 45.0, 44.0)], "zero": [row("zero", 0, 65.0, 45.0, 44.0)]}
    record = {"default": {"trained": True}, "zero": {"trained": True}}
    COLLECT["carry"](previous, settings, record, {"videos": 1200})
    assert list(settings) == ["default", "zero", "raw-zero"]  # the folder's own settings are not replaced
    carried = settings["raw-zero"]
    assert [r["seed"] for r in carried] == [0, 1] and carried[1]["bleu4_with_text_A"] == 61.0
    assert carried[0]["mask_moved"] is None and carried[0]["verdict"] == "content_misled"  # read back as written
    assert record["raw-zero"]["carried_from"] == str(previous) and record["raw-zero"]["trained"] is True
    assert COLLECT["summarize"](settings)[2]["A - default"] == "-10.0"  # paired with the folder's default, seed 0


def test_carrying_is_refused_when_the_default_is_another_model_or_store(tmp_path):
    previous = earlier_collection(tmp_path, 70.0)
    retrained = {"default": [row("default", 1, 71.5, 45.0, 44.0)]}  # seed 1 gave 71.0 before
    with pytest.raises(SystemExit, match=r"seed 1 differs .* bleu4_with_text_A 71.5 against 71.0"):
        COLLECT["carry"](previous, retrained, {"default": {}}, {"videos": 1200})
    with pytest.raises(SystemExit, match="none of the seeds"):
        COLLECT["carry"](previous, {"default": [row("default", 2, 72.0, 45.0, 44.0)]}, {}, {"videos": 1200})
    with pytest.raises(SystemExit, match="other stores"):
        COLLECT["carry"](previous, {"default": [row("default", 0, 70.0, 45.0, 44.0)]}, {}, {"videos": 2400})
    ablation = COLLECT["json"].loads((previous / "ablation.json").read_text(encoding="utf-8"))
    del ablation["settings"]["raw-zero"]["trained"]
    (previous / "ablation.json").write_text(COLLECT["json"].dumps(ablation), encoding="utf-8")
    with pytest.raises(SystemExit, match="'raw-zero' does not say whether it trained"):
        COLLECT["carry"](previous, {"default": [row("default", 0, 70.0, 45.0, 44.0)]}, {}, {"videos": 1200})
