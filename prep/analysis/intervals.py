"""Confidence intervals over seeds: what a handful of runs of one setting says about its mean."""

from __future__ import annotations

import statistics

from scipy import stats

LEVEL = 0.95


def mean_ci(values: list[float], level: float = LEVEL) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` and its ``level`` t-interval (Student's t with n - 1
    degrees of freedom: few seeds give wide intervals, as they should). One value gives a zero-width interval;
    no value is an error."""
    if not values:
        raise ValueError("mean_ci needs at least one value")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half
