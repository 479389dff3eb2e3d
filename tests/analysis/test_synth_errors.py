"""scripts/synth_errors.py: where a model's errors on a synthetic store come from."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from helpers import TINY_RUN

from prep.cli import main
from prep.train.config import resolve
from prep.train.loop import train

SCRIPT = Path(__file__).parents[2] / "scripts" / "synth_errors.py"
ERRORS = runpy.run_path(str(SCRIPT))


def test_a_repeated_sign_said_fewer_times_is_counted_back_to_back_or_apart():
    references = [["a", "a", "b"], ["a", "b", "a"], ["a", "a", "a"], ["a", "b"]]
    outputs = [["a", "b"], ["a", "b", "a", "a"], ["a", "a"], []]
    assert ERRORS["repeated_signs"](references, outputs) == {
        "back_to_back": "2 of 2 said fewer times",  # the last reference repeats nothing
        "apart": "0 of 1 said fewer times",  # said more often is not fewer
    }


def test_the_ctc_head_counts_the_same_repeats_as_the_translations(synth_store, tmp_path):
    run = tmp_path / "ctc"
    train(resolve({}, {"store": synth_store, **TINY_RUN, "ctc_weight": 1.0}), run, progress=False)
    result = CliRunner().invoke(main, ["eval", str(run), "--split", "train", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = run / "eval" / "train-missing-aware.json"
    found = subprocess.run([sys.executable, str(SCRIPT), str(report), "--gloss-head"], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    repeats = json.loads(found.stdout)["repeated signs"]
    assert set(repeats) == {"A (with the description)", "B (without)", "the CTC head"}
    totals = {
        kind: {line.split(" of ")[1] for line in (r[kind] for r in repeats.values())}
        for kind in ("back_to_back", "apart")
    }
    assert all(len(total) == 1 for total in totals.values())  # the same repeats, whoever counts them
    assert sum(int(next(iter(t)).split()[0]) for t in totals.values()) > 0  # and the store has some
