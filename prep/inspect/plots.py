"""The page's figure: each figure's distribution over the videos, one line per split, with the flag's threshold."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np

from .flags import Thresholds, jitter_share

SPLIT_COLOURS = {"train": "#1f77b4", "dev": "#ff7f0e", "test": "#2ca02c", "unassigned": "#7f7f7f"}
THRESHOLD_COLOUR = "#d62728"


def panels(thresholds: Thresholds) -> list[tuple[str, object, float | None, tuple[float, float] | None]]:
    """(title, the value of a record, the threshold or None, the axis range or None: from the data)."""
    return [
        ("left hand found (% of frames)", lambda r: 100 * r["found"]["LEFT_HAND"], None, (0, 100)),
        ("right hand found (% of frames)", lambda r: 100 * r["found"]["RIGHT_HAND"], None, (0, 100)),
        ("no hand (% of frames)", lambda r: 100 * r["no_hand"], thresholds.max_hands_missing, (0, 100)),
        ("longest run with no hand (s)", lambda r: r["longest_no_hand"]["seconds"], thresholds.max_gap, None),
        ("signer size (shoulders / longer side)", lambda r: r["signer_size"], thresholds.min_signer_size, None),
        ("jitter (% of hand steps)", lambda r: 100 * jitter_share(r), thresholds.max_jitter, None),
    ]


def distributions(records: list[dict], splits: list[str], thresholds: Thresholds) -> bytes:
    """A PNG: one panel per figure, a step histogram per split (as shares of the split's videos)."""
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))
    for axis, (title, value, threshold, limits) in zip(axes.flat, panels(thresholds), strict=True):
        values = {s: np.array([v for r in records if r["split"] == s and (v := value(r)) is not None]) for s in splits}
        pooled = np.concatenate([v for v in values.values() if v.size] or [np.zeros(1)])
        low, high = limits or (0.0, max(float(pooled.max()), threshold or 0.0) * 1.05 or 1.0)
        bins = np.linspace(low, high, 26)
        for split, v in values.items():
            if v.size:
                axis.hist(np.clip(v, low, high), bins=bins, weights=np.full(v.size, 1 / v.size), histtype="step",
                          linewidth=1.5, color=SPLIT_COLOURS[split], label=f"{split} ({v.size})")  # fmt: skip
        if threshold is not None:
            axis.axvline(threshold, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1, label="flag threshold")
        axis.set(title=title, ylabel="share of the split's videos")
        axis.grid(alpha=0.3)
    axes.flat[2].legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
