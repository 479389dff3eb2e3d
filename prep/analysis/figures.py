"""The figures of `mmprep report`'s page: one PNG per plot, written into the report's folder, named by the plot.

Each function takes what the run recorded (metrics.jsonl's steps, dev evaluations, eval/*.json) and returns
the file name it wrote, which the page (report.py) shows with its caption.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np

from ..evaluate.metrics import TARGETS
from ..evaluate.summary import METRIC_NAMES
from ..model.fusion import TEXT_WEIGHT
from ..train.diagnostics import COSINE_WARNING, text_weight_keys

A_COLOUR, B_COLOUR = "#1f77b4", "#ff7f0e"  # scenario A (text) and B (placeholder) everywhere on the page
PASS_COLOUR, FAIL_COLOUR = "#2ca02c", "#d62728"


def label(report: dict) -> str:
    """A short name for an evaluation: split, mode and its option, beam."""
    text = f"{report['split']} {report['mode']}"
    text += f" a={report['alpha']:g}" if report["alpha"] is not None else ""
    text += f" f={report['factor']:g}" if report["factor"] is not None else ""
    return text + (f" beam {report['beams']}" if report["beams"] > 1 else "")


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def _series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    pairs = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    return [s for s, _ in pairs], [v for _, v in pairs]


def plot_training(steps: list[dict], dev: list[dict], out: Path) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(*_series(steps, "loss"), color="#333333", linewidth=1)
    left.set(title="training loss", xlabel="step", ylabel="cross-entropy (label-smoothed)")
    right.plot(*_series(dev, "dev_bleu"), marker="o", color=A_COLOUR)
    right.set(title="dev BLEU-4 (greedy, after each epoch)", xlabel="step", ylabel="BLEU (0-100)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    return _save(fig, out, "training.png")


def plot_dropout(steps: list[dict], out: Path) -> str:
    fig, axis = plt.subplots(figsize=(10, 2.8))
    axis.plot(*_series(steps, "text_dropout_p"), color="#8c564b")
    axis.set(title="effective text dropout rate p", xlabel="step", ylabel="p", ylim=(-0.02, 1.02))
    axis.grid(alpha=0.3)
    return _save(fig, out, "text_dropout.png")


def plot_text_weight(steps: list[dict], videos: list[dict] | None, fusion: str, out: Path) -> str:
    """How much text ``fusion`` lets in (``TEXT_WEIGHT``): in training (left), per evaluated video (right)."""
    weight = TEXT_WEIGHT[fusion]
    fig, axes = plt.subplots(1, 2 if videos else 1, figsize=(10, 3.6), squeeze=False)
    left = axes[0][0]
    with_key, without_key = text_weight_keys(fusion)
    left.plot(*_series(steps, with_key), color=A_COLOUR, label="batches' videos with text")
    left.plot(*_series(steps, without_key), color=B_COLOUR, label="without text (or dropped)")
    left.set(title=f"mean {weight.label} in training", xlabel="step", ylabel=weight.label)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    if videos:
        right = axes[0][1]
        a, b = weight.name, weight.name + "_without_text"
        groups = [
            ([v[a] for v in videos if v["has_text"]], A_COLOUR, "with text, A (its description)"),
            ([v[b] for v in videos if v["has_text"]], B_COLOUR, "with text, B (placeholder)"),
            ([v[a] for v in videos if not v["has_text"]], "#7f7f7f", "without text"),
        ]
        bins = np.histogram_bin_edges([g for values, _, _ in groups for g in values], bins=20)  # shared widths
        for values, colour, name in groups:
            if values:
                right.hist(values, bins=bins, alpha=0.55, color=colour, label=f"{name} ({len(values)})")
        right.set(
            title=f"{weight.label} per video at evaluation", xlabel=f"the video's {weight.label}", ylabel="videos"
        )
        right.locator_params(axis="x", nbins=5)  # values differ in the 3rd-4th decimal: long labels
        right.legend(fontsize=8)
    return _save(fig, out, "text_weight.png")


def plot_mask(steps: list[dict], out: Path) -> str | None:
    if not any(r.get("mask_cos_init") is not None for r in steps):
        return None
    if not any(r.get("mask_moved") is not None for r in steps):
        return _plot_mask_cosines(steps, out)  # a run from before the distances were logged
    fig, axis = plt.subplots(figsize=(10, 3.2))
    axis.plot(*_series(steps, "mask_moved"), color="#9467bd", label="moved from its start (mask_init)")
    axis.plot(*_series(steps, "mask_distance_text_mean"), color="#17becf", label="from the mean train description")
    axis.axhline(1.0, color="#7f7f7f", linestyle=":", linewidth=1, label="a typical description's distance")
    last = next(r for r in reversed(steps) if r.get("mask_cos_init") is not None)
    cosines = f"cosine to its start {last['mask_cos_init']:.5f}"
    if last.get("mask_cos_text_mean") is not None:
        warning = (
            " (< 0.7: a warning, docs/missing-modality.md#6-diagnostics)"
            if last["mask_cos_text_mean"] < COSINE_WARNING
            else ""
        )
        cosines += f", to the mean {last['mask_cos_text_mean']:.5f}{warning}"
    axis.set(
        title=f"where the mask embedding is; at the end {cosines}",
        xlabel="step",
        ylabel="distance / a typical\ndescription's from the mean",
    )
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(alpha=0.3)
    return _save(fig, out, "mask.png")


def _plot_mask_cosines(steps: list[dict], out: Path) -> str:
    fig, axis = plt.subplots(figsize=(10, 3.2))
    axis.plot(*_series(steps, "mask_cos_init"), color="#9467bd", label="to its initial value (mask_init)")
    axis.plot(*_series(steps, "mask_cos_text_mean"), color="#17becf", label="to the mean train text feature")
    axis.axhline(
        COSINE_WARNING, color=FAIL_COLOUR, linestyle="--", linewidth=1, label=f"warning below {COSINE_WARNING}"
    )
    axis.set(title="cosine similarity of the mask embedding", xlabel="step", ylabel="cosine", ylim=(-0.05, 1.05))
    axis.legend(fontsize=8, loc="lower left")
    axis.grid(alpha=0.3)
    return _save(fig, out, "mask.png")


def plot_consistency(evaluations: list[tuple[Path, dict, list[dict]]], out: Path) -> str:
    """One panel per metric: a bar per evaluation and subset, coloured by pass/fail, the target dashed."""
    bars = []
    for _, report, _ in evaluations:
        bars.append((label(report) + " | all", report["consistency"]))
        if report["with_text"] is not None:
            bars.append((label(report) + " | with text", report["with_text"]["consistency"]))
    fig, axes = plt.subplots(1, 4, figsize=(12, 1.4 + 0.32 * len(bars)), sharey=True)
    positions = list(range(len(bars)))[::-1]  # the first evaluation on top
    for axis, name in zip(axes, METRIC_NAMES, strict=True):
        values = [c[name]["value"] for _, c in bars]
        widths = [0.0 if v is None else v for v in values]
        axis.barh(positions, widths, color=[PASS_COLOUR if c[name]["pass"] else FAIL_COLOUR for _, c in bars])
        if name == "delta_bleu":
            # Drawn from end to end: a bootstrap's percentile interval need not contain the estimate (with few
            # resamples it may not), which errorbar's offsets from the bar cannot show.
            low, high = ([c[name]["ci"][k] for _, c in bars] for k in (0, 1))
            axis.hlines(positions, low, high, colors="black", linewidth=1)
            axis.plot(low + high, positions + positions, "|", color="black", markersize=6)
        target = TARGETS[name]
        for x in [-target.threshold, target.threshold] if target.rule == "abs<" else [target.threshold]:
            axis.axvline(x, color="black", linestyle="--", linewidth=1)
        for y, value in zip(positions, values, strict=True):
            # right of the bar's end, or of zero for a negative bar (its left end is where the interval is)
            x = 0 if value is None else max(value, 0)
            axis.text(x, y, " n/a (undefined)" if value is None else f" {value:.3g}", va="center", fontsize=7)
        axis.set_title(f"{METRIC_NAMES[name]}\ntarget {target}", fontsize=9)
        axis.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(positions, [b for b, _ in bars], fontsize=8)
    return _save(fig, out, "consistency.png")
