"""How many descriptions does a model need? Text use against the number of described training videos.

    python scripts/text_use_curve.py bench-out/d64 bench-out/d128 bench-out/d449 --out curve.png

Each DIR is a `scripts/bench_missing_text.py` benchmark (one or more seeds, DIR/seed-S/results.json) on stores
that differ in how many training videos are described (`--text-ratio TRAIN,DEV,TEST`) and may differ in how many
training videos there are (`--videos`, `--splits`): one curve per number of training videos. Per DIR: the
numbers of described and of all training videos (from its stores), and over its seeds the mean and 95 % t-interval of
the ambiguous-word accuracy with the description (A) and with another video's (C), A over its ceiling, A - B
and C - B (BLEU-4 on the with-text test videos). Prints a Markdown table and the trend, and writes the plot.

The trend is one least-squares fit over every run: figure = a + b log2(described) + c [of each larger number of
training videos]: b is what a doubling of the described videos buys, c what more training videos buy at the
same number described; each with its 95 % t-interval.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib
import numpy as np
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import prep
from prep.analysis import intervals

PANELS = (  # (figure, title, y label)
    ("pairs", "ambiguous words right", "accuracy (0.5 = chance)"),
    ("A_over_ceiling", "with its description: A / ceiling", "share of the with-text ceiling"),
    ("A_minus_B", "A - B: what the description adds", "BLEU-4"),
    ("C_minus_B", "C - B: another video's description", "BLEU-4"),
)


def point(directory: Path) -> dict:
    """One DIR: described and all training videos, and per figure the values over its seeds."""
    paths = sorted(directory.glob("seed-*/results.json"))
    if not paths:
        raise SystemExit(f"{directory} holds no seed-*/results.json")
    results = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    stores = [prep.open_store(str(p.parent / "synth.zarr")) for p in paths]
    counts = {(s.synth["ceilings"]["train"]["n_with_text"], int((s.column("split") == "train").sum())) for s in stores}
    if len(counts) != 1:
        raise SystemExit(f"{directory}: its seeds' stores describe (of all) {sorted(counts)} training videos")
    described, training = counts.pop()
    values = {
        "pairs": [r["ambiguous_accuracy_A"] for r in results],
        "pairs_C": [r["ambiguous_accuracy_C"] for r in results],
        "A_over_ceiling": [r["bleu4_with_text_A"] / r["with_text_ceiling"] for r in results],
        "A_minus_B": [r["bleu4_with_text_A"] - r["bleu4_with_text_B"] for r in results],
        "C_minus_B": [r["bleu4_with_text_C"] - r["bleu4_with_text_B"] for r in results],
        "A": [r["bleu4_with_text_A"] for r in results],
        "C": [r["bleu4_with_text_C"] for r in results],
    }
    return {
        "described": described,
        "training": training,
        "seeds": [r["store"]["seed"] for r in results],
        "values": values,
    }


def cell(values: list[float], digits: int) -> str:
    mean, low, high = intervals.mean_ci(values)
    text = f"{mean:.{digits}f}"
    if len(values) > 1:
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def table(points: list[dict]) -> str:
    lines = [
        "| training videos | described | seeds | pairs A | pairs C | A / ceiling | A − B | C − B | A | C |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        v = p["values"]
        lines.append(
            f"| {p['training']} | {p['described']} | {len(p['seeds'])} | {cell(v['pairs'], 2)} | {cell(v['pairs_C'], 2)} | "
            f"{cell(v['A_over_ceiling'], 2)} | {cell(v['A_minus_B'], 1)} | {cell(v['C_minus_B'], 1)} | "
            f"{cell(v['A'], 1)} | {cell(v['C'], 1)} |"
        )
    return "\n".join(lines)


TREND = (("pairs", "pairs A", 3), ("A_over_ceiling", "A / ceiling", 3), ("A_minus_B", "A - B", 1))


def trend(points: list[dict], key: str) -> dict[str, tuple[float, float, float]]:
    """``{"per doubling": ..., "of N training videos": ...}``: each coefficient of the fit over every run (the
    module docstring), as (estimate, low, high)."""
    totals = sorted({p["training"] for p in points})
    rows, y = [], []
    for p in points:
        for value in p["values"][key]:
            rows.append([1.0, np.log2(p["described"])] + [float(p["training"] == t) for t in totals[1:]])
            y.append(value)
    x, y = np.array(rows), np.array(y)
    if len(y) <= x.shape[1]:
        raise SystemExit(f"a trend over {len(y)} runs needs more than {x.shape[1]}")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    covariance = residual @ residual / (len(y) - x.shape[1]) * np.linalg.inv(x.T @ x)
    half = stats.t.ppf((1 + intervals.LEVEL) / 2, len(y) - x.shape[1]) * np.sqrt(np.diag(covariance))
    names = ["per doubling"] + [f"of {t} training videos instead of {totals[0]}" for t in totals[1:]]
    return {n: (coef[i], coef[i] - half[i], coef[i] + half[i]) for i, n in enumerate(names, start=1)}


def plot(points: list[dict], out: Path) -> None:
    """One panel per figure; in each, one curve per number of training videos, every seed a grey dot."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(14, 3.6))
    totals = sorted({p["training"] for p in points})
    ticks = sorted({p["described"] for p in points})
    for axis, (key, title, ylabel) in zip(axes, PANELS, strict=True):
        for i, total in enumerate(totals):  # matplotlib's colour cycle: one colour per number of training videos
            curve = [p for p in points if p["training"] == total]
            x = [p["described"] for p in curve]
            means, lows, highs = zip(*(intervals.mean_ci(p["values"][key]) for p in curve), strict=True)
            axis.errorbar(x, means, yerr=[[m - lo for m, lo in zip(means, lows, strict=True)],
                                          [hi - m for m, hi in zip(means, highs, strict=True)]],
                          marker="o", capsize=3, color=f"C{i}", label=f"of {total} training videos")  # fmt: skip
            for p in curve:  # every seed
                axis.scatter([p["described"]] * len(p["values"][key]), p["values"][key], s=8, color="#7f7f7f", zorder=3)
        if key == "pairs":
            axis.axhline(0.5, color="#7f7f7f", linestyle=":", linewidth=1)
        if key in ("A_minus_B", "C_minus_B"):
            axis.axhline(0.0, color="#7f7f7f", linestyle=":", linewidth=1)
        axis.set_xscale("log")
        axis.set_xticks(ticks, [str(v) for v in ticks], fontsize=8)
        axis.minorticks_off()
        axis.set(title=title, xlabel="described training videos", ylabel=ylabel)
        axis.grid(alpha=0.3)
    if len(totals) > 1:
        axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "dirs", nargs="+", type=Path, help="benchmarks, one per number of described (and of all) training videos"
    )
    parser.add_argument("--out", type=Path, required=True, help="the plot (PNG)")
    args = parser.parse_args()
    points = sorted((point(d) for d in args.dirs), key=lambda p: (p["training"], p["described"]))
    print(table(points))
    for key, name, digits in TREND:
        fit = ", ".join(
            f"{n} {v:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]" for n, (v, lo, hi) in trend(points, key).items()
        )
        print(f"{name}: {fit}")
    plot(points, args.out)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
