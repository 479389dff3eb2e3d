"""scripts/text_use_curve.py: one point per benchmark, its described and all training videos read from the stores."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

CURVE = runpy.run_path(str(Path(__file__).parents[2] / "scripts" / "text_use_curve.py"))


def results(seed: int, a: float, b: float, c: float, pairs: float, ceiling: float = 80.0) -> dict:
    """The figures of a benchmark's results.json that the curve reads."""
    return {
        "store": {"seed": seed},
        "ambiguous_accuracy_A": pairs,
        "ambiguous_accuracy_C": 0.5,
        "with_text_ceiling": ceiling,
        "bleu4_with_text_A": a,
        "bleu4_with_text_B": b,
        "bleu4_with_text_C": c,
    }


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """Synthetic stores: of 40 videos a quarter and half of each split described; of 60, a quarter."""
    from click.testing import CliRunner

    from prep.cli import main

    made = {}
    for name, videos, ratio in (("quarter", 40, "0.25"), ("half", 40, "0.5"), ("quarter-of-60", 60, "0.25")):
        path = tmp_path_factory.mktemp(name) / "synth.zarr"
        result = CliRunner().invoke(main, ["synth", str(path), "--videos", str(videos), "--text-ratio", ratio])
        assert result.exit_code == 0, result.output
        made[name] = path
    return made


def benchmark(directory: Path, seeds: dict[int, tuple[Path, dict]]) -> Path:
    """DIR/seed-S/{results.json, synth.zarr} as bench_missing_text.py writes them (the store linked)."""
    for seed, (store, figures) in seeds.items():
        (directory / f"seed-{seed}").mkdir(parents=True)
        (directory / f"seed-{seed}" / "results.json").write_text(json.dumps(figures))
        (directory / f"seed-{seed}" / "synth.zarr").symlink_to(store, target_is_directory=True)
    return directory


def test_each_benchmark_is_a_point_at_its_described_training_videos(stores, tmp_path):
    import prep

    opened = {n: prep.open_store(str(p)) for n, p in stores.items()}
    described = {n: s.synth["ceilings"]["train"]["n_with_text"] for n, s in opened.items()}
    training = {n: int((s.column("split") == "train").sum()) for n, s in opened.items()}
    assert 0 < described["quarter"] < described["half"] < training["half"] == training["quarter"]
    assert training["quarter-of-60"] > training["quarter"]
    half = benchmark(tmp_path / "half", {0: (stores["half"], results(0, 70.0, 40.0, 41.0, 0.9)),
                                         1: (stores["half"], results(1, 60.0, 40.0, 39.0, 0.8))})  # fmt: skip
    quarter = benchmark(tmp_path / "quarter", {0: (stores["quarter"], results(0, 50.0, 40.0, 40.0, 0.6, 100.0))})

    points = sorted((CURVE["point"](d) for d in (half, quarter)), key=lambda p: p["described"])
    assert [p["described"] for p in points] == [described["quarter"], described["half"]]
    assert [p["training"] for p in points] == [training["quarter"], training["half"]]
    assert points[1]["seeds"] == [0, 1]
    assert points[1]["values"]["A_minus_B"] == [30.0, 20.0]
    assert points[1]["values"]["C_minus_B"] == [1.0, -1.0]
    assert points[0]["values"]["A_over_ceiling"] == [0.5]

    rows = CURVE["table"](points).splitlines()[2:]
    assert rows[0].startswith(
        f"| {training['quarter']} | {described['quarter']} | 1 | 0.60 | 0.50 | 0.50 | 10.0 | 0.0 |"
    )
    # two seeds: the mean and its 95 % t-interval (t(1) = 12.706, sd of 0.9 and 0.8 = 0.0707)
    assert rows[1].startswith(f"| {training['half']} | {described['half']} | 2 | 0.85 [0.21, 1.49] |")

    larger = benchmark(tmp_path / "larger", {0: (stores["quarter-of-60"], results(0, 50.0, 40.0, 40.0, 0.6))})
    points.append(CURVE["point"](larger))
    assert points[-1]["training"] == training["quarter-of-60"]
    plot = tmp_path / "curve.png"
    CURVE["plot"](points, plot)  # two curves: of 40-video and of 60-video stores
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_a_benchmark_whose_seeds_describe_different_numbers_is_refused(stores, tmp_path):
    mixed = benchmark(tmp_path / "mixed", {0: (stores["quarter"], results(0, 1.0, 1.0, 1.0, 0.5)),
                                           1: (stores["half"], results(1, 1.0, 1.0, 1.0, 0.5))})  # fmt: skip
    with pytest.raises(SystemExit, match=r"mixed: its seeds' stores describe \(of all\)"):
        CURVE["point"](mixed)
    with pytest.raises(SystemExit, match="holds no seed-"):
        CURVE["point"](tmp_path / "empty")


def test_the_trend_recovers_the_gain_per_doubling_and_per_training_videos():
    import numpy as np
    from scipy import stats

    def curve(training: int, shift: float, noise: list[float]) -> list[dict]:
        return [{"described": d, "training": training,
                 "values": {"pairs": [0.5 + 0.03 * np.log2(d) + shift + e for e in noise]}}
                for d in (64, 128, 256, 512)]  # fmt: skip

    exact = CURVE["trend"](curve(640, 0.0, [0.0, 0.0]) + curve(1759, 0.04, [0.0, 0.0]), "pairs")
    assert list(exact) == ["per doubling", "of 1759 training videos instead of 640"]
    assert exact["per doubling"] == pytest.approx((0.03, 0.03, 0.03))
    assert exact["of 1759 training videos instead of 640"] == pytest.approx((0.04, 0.04, 0.04))

    # one number of training videos: ordinary regression on log2(described), as scipy computes it
    noisy = curve(640, 0.0, [0.01, -0.02, 0.015])
    slope, low, high = CURVE["trend"](noisy, "pairs")["per doubling"]
    x = [np.log2(p["described"]) for p in noisy for _ in p["values"]["pairs"]]
    y = [v for p in noisy for v in p["values"]["pairs"]]
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, len(y) - 2) * fit.stderr
    assert (slope, low, high) == pytest.approx((fit.slope, fit.slope - half, fit.slope + half))

    with pytest.raises(SystemExit, match="needs more than"):
        CURVE["trend"](curve(640, 0.0, [0.0])[:2], "pairs")
