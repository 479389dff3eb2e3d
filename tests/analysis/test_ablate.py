"""`mmprep ablate`: a 2 x 2 grid trained and evaluated, compared, and resumed after cells are deleted."""

from __future__ import annotations

import csv
import re
import runpy
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import snapshot

from prep.analysis.ablate import Ablation, Cell, parse_grid, spread
from prep.cli import main
from prep.errors import InputError

SETTINGS = ["backbone=tiny", "tiny_d_model=32", "tiny_layers=1", "tiny_heads=2", "tiny_vocab_size=200", "batch_size=8",
            "pose_stride=4", "max_target_length=16", "eval_max_videos=2", "log_every=1", "lr=5e-4"]  # fmt: skip


CELLS = [  # sorted by name
    "placeholder=mask+indicator,text_dropout=0.3,seed=0", "placeholder=mask+indicator,text_dropout=none,seed=0",
    "placeholder=zero,text_dropout=0.3,seed=0", "placeholder=zero,text_dropout=none,seed=0",
]  # fmt: skip


def ablate_args(store, out, *extra):
    args = ["ablate", "--store", store, "--out", out, "--grid", "placeholder=zero,mask+indicator",
            "--grid", "text_dropout=none,0.3", "--steps", "2", "-q", *extra]  # fmt: skip
    for setting in SETTINGS:
        args += ["--set", setting]
    return args


def results(out) -> list[dict]:
    with open(out / "results.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def ablation(synth_store, tmp_path_factory) -> tuple[Path, Result]:
    """The 2 x 2 ablation of ablate_args, run once in this process: (its folder, the command's result)."""
    out = tmp_path_factory.mktemp("ablate") / "ablation"
    result = CliRunner().invoke(main, [str(a) for a in ablate_args(synth_store, out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result


def test_ablation_trains_and_evaluates_every_cell_and_compares_them(ablation):
    out, result = ablation
    assert "4 cells (0 finished before, 4 to run)" in result.stderr
    assert sorted(p.name for p in (out / "cells").iterdir()) == CELLS
    config = (out / "cells" / CELLS[1] / "run" / "config.toml").read_text()
    assert 'placeholder = "mask+indicator"' in config and 'text_dropout = "none"' in config
    assert "max_steps = 2" in config and "seed = 0" in config and "tiny_d_model = 32" in config
    rows = results(out)
    assert [(r["placeholder"], r["text_dropout"]) for r in rows] == [
        ("zero", "none"), ("zero", "0.3"), ("mask+indicator", "none"), ("mask+indicator", "0.3")
    ]  # fmt: skip
    assert all(r["step"] == "2" and float(r["bleu4"]) >= 0 and r["with_text_kl"] for r in rows)
    # the store's ceilings beside each row (the same for every cell: one store, one split)
    assert len({(r["with_text_ceiling"], r["pose_only_ceiling"]) for r in rows}) == 1
    assert 100 >= float(rows[0]["with_text_ceiling"]) >= float(rows[0]["pose_only_ceiling"]) > 0
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert sum(line.startswith("| ") for line in summary.splitlines()) == 5
    assert "| placeholder | text_dropout | seeds | best dev BLEU-4" in summary
    assert summary in result.output  # the table is printed too
    assert (out / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_ablations_sets_every_setting_against_a_baseline(ablation, cli):
    """scripts/compare_ablations.py, paired by seed; with --modes, a cell evaluated in another mode is a row of
    its own."""
    out, _ = ablation
    rows = results(out)
    compare = runpy.run_path(str(Path(__file__).parents[2] / "scripts" / "compare_ablations.py"))
    lines = compare["table"](compare["load"](out), "placeholder=zero,text_dropout=none").splitlines()
    assert len(lines) == 6 and "| B - placeholder=zero,text_dropout=none |" in lines[0]
    by_setting = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in lines[2:]}
    assert by_setting["placeholder=zero,text_dropout=none"][8] == "(baseline)"
    b = {(r["placeholder"], r["text_dropout"]): float(r["with_text_bleu4_without_text"]) for r in rows}
    assert by_setting["placeholder=mask+indicator,text_dropout=0.3"][8] == format(
        b[("mask+indicator", "0.3")] - b[("zero", "none")], ".1f"
    )
    cli("eval", str(out / "cells" / CELLS[0] / "run"), "--mode", "conservative", "--alpha", "0.5", "-q")
    lines = compare["table"](compare["load"](out, ("conservative-a0.5",)), "placeholder=zero,text_dropout=none")
    assert len(lines.splitlines()) == 7
    assert lines.splitlines()[-1].startswith("| placeholder=mask+indicator,text_dropout=0.3 (conservative-a0.5) | 1 |")


def test_a_resumed_ablation_runs_only_what_is_missing(ablation, synth_store, tmp_path, cli):
    """A cell whose evaluation is gone is evaluated again, its training kept; a deleted cell is trained again; the
    other two keep every file as it was. This time on a local dask cluster of one worker."""
    out = tmp_path / "ablation"
    shutil.copytree(ablation[0], out)
    rows = results(out)
    run = out / "cells" / CELLS[0] / "run"
    (run / "eval" / "dev-missing-aware.json").unlink()
    trained = {name: data for name, data in snapshot(run).items() if not name.startswith("eval/")}
    shutil.rmtree(out / "cells" / CELLS[1])
    untouched = {name: snapshot(out / "cells" / name) for name in CELLS[2:]}

    result = cli(*ablate_args(synth_store, out, "--workers", "1"))
    assert "4 cells (2 finished before, 2 to run)" in result.stderr
    assert sorted(re.findall(r"\] (\S+): done", result.stderr)) == CELLS[:2]
    assert {name: snapshot(out / "cells" / name) for name in CELLS[2:]} == untouched
    assert {name: data for name, data in snapshot(run).items() if not name.startswith("eval/")} == trained
    assert (run / "eval" / "dev-missing-aware.json").exists()
    again = results(out)
    assert again[:2] == rows[:2]  # the untouched cells (zero placeholder)
    # The dask worker's torch gets cores / workers threads (ablate.training_workers), this process every core; on a
    # machine where those differ the results agree to float rounding, not bit for bit.
    assert [(r["placeholder"], r["text_dropout"], r["step"]) for r in again[2:]] == [
        (r["placeholder"], r["text_dropout"], r["step"]) for r in rows[2:]
    ]
    assert all(
        float(a["with_text_kl"]) == pytest.approx(float(b["with_text_kl"]), rel=0.05)
        for a, b in zip(again[2:], rows[2:], strict=True)
    )

    assert "4 cells (4 finished before, 0 to run)" in cli(*ablate_args(synth_store, out)).stderr
    other = ablate_args(synth_store, out)
    other[other.index("--steps") + 1] = "3"
    assert "holds another ablation (it differs in: steps)" in cli(*other, expect=1).output


def test_grid_and_seed_rules(synth_store):
    assert parse_grid(["placeholder=zero,mask", "lr=1e-3,3e-4", "bucket=true,false"]) == {
        "placeholder": ["zero", "mask"], "lr": [0.001, 0.0003], "bucket": [True, False]
    }  # fmt: skip
    with pytest.raises(InputError, match="unknown training option 'placeholdr'"):
        parse_grid(["placeholdr=zero"])
    with pytest.raises(InputError, match="--grid seed: not a grid option; set it with --seeds"):
        parse_grid(["seed=1,2"])
    with pytest.raises(InputError, match="lr=fast: not a number"):
        parse_grid(["lr=fast"])
    ablation = Ablation(synth_store, {"placeholder": ["zero", "mask"]}, {"seed": 5}, seeds=2, steps=None)
    assert [c.name for c in ablation.cells()] == ["placeholder=zero,seed=5", "placeholder=zero,seed=6",
                                                  "placeholder=mask,seed=5", "placeholder=mask,seed=6"]  # fmt: skip
    with pytest.raises(InputError, match=r"(?s)cell placeholder=zeros,seed=0: .*'zeros' is not one of"):
        Ablation(synth_store, {"placeholder": ["zeros"]}, {}, 1, None).config(Cell((("placeholder", "zeros"),), 0))
    with pytest.raises(InputError, match="--mode conservative needs --alpha"):
        Ablation(synth_store, {"placeholder": ["zero"]}, {}, 1, None, mode="conservative")
    # 2 +- t(0.975, 2 df) * 1 / sqrt(3) = 2 +- 4.303 * 0.577: the interval of three seeds is wide
    assert spread([1.0, 2.0, 3.0], ".2f") == "2.00 [-0.48, 4.48]"
    assert spread([None], ".2f") == "n/a" and spread([2.5, None], ".1f") == "2.5"
