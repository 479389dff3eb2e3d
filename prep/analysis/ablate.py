"""`mmprep ablate`: train and evaluate every combination of a grid of training options, with several seeds, and
compare them (docs/missing-modality.md §7: the claims a user should be able to confirm or refute on their own data).

An ablation folder holds ``ablation.json`` (what was asked), one folder per cell under ``cells/`` (the run
directory of `mmprep train`, evaluated into ``run/eval/``), and the comparison: ``results.csv`` (one row per
cell and seed), ``summary.csv`` and ``summary.md`` (mean and spread over seeds) and ``loss_curves.png``.
A cell whose evaluation exists is finished and never rerun; an interrupted cell resumes its training.
"""

from __future__ import annotations

import csv
import itertools
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..evaluate import InferenceMode, default_output, evaluate, read, write
from ..evaluate.summary import METRIC_NAMES
from ..train.config import format_value, parse_value, resolve
from ..train.run_dir import read_metrics, start_or_resume
from .intervals import mean_ci

FIXED = {"store": "--store", "seed": "--seeds", "max_steps": "--steps"}  # never set by the grid
CELLS = "cells"


@dataclass(frozen=True)
class Cell:
    settings: tuple[tuple[str, object], ...]  # the grid's values, in the grid's key order
    seed: int

    @property
    def name(self) -> str:
        """The cell's folder: ``placeholder=mask,text_dropout=0.3,seed=0``."""
        return ",".join(f"{k}={format_value(v)}" for k, v in self.settings) + f",seed={self.seed}"

    @property
    def setting(self) -> str:
        """The grid setting without the seed (the rows of the summary)."""
        return ",".join(f"{k}={format_value(v)}" for k, v in self.settings)


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["placeholder=zero,mask", "lr=1e-3,3e-4"]`` -> ``{"placeholder": ["zero", "mask"], "lr": [0.001, 0.0003]}``."""
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values.strip():
            raise InputError(f"--grid {item!r}: write KEY=V1,V2,... e.g. --grid placeholder=zero,mask")
        if key in FIXED:
            raise InputError(f"--grid {key}: not a grid option; set it with {FIXED[key]}")
        if key in grid:
            raise InputError(f"--grid {key} is given twice")
        grid[key] = [parse_value(key, v.strip()) for v in values.split(",")]
    if not grid:
        raise InputError("give at least one --grid KEY=V1,V2,...")
    return grid


def parse_settings(items: list[str]) -> dict:
    """``--set KEY=VALUE`` options shared by every cell."""
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise InputError(f"--set {item!r}: write KEY=VALUE, e.g. --set lr=1e-3")
        settings[key] = parse_value(key, value.strip())
    return settings


@dataclass
class Ablation:
    """What an ablation folder was asked to compute; saved as ``ablation.json`` and checked when resumed."""

    store: str
    grid: dict[str, list]
    base: dict  # options shared by every cell (--config and --set), before the grid
    seeds: int
    steps: int | None
    split: str = "dev"
    mode: str = "missing-aware"
    alpha: float | None = None
    factor: float | None = None

    def __post_init__(self):
        self.inference  # noqa: B018  (checks the mode's options now, before any cell runs)

    @property
    def inference(self) -> InferenceMode:
        return InferenceMode(self.mode, self.alpha, self.factor)

    def cells(self) -> list[Cell]:
        first_seed = self.base.get("seed", 0)
        combos = itertools.product(*self.grid.values())
        return [
            Cell(tuple(zip(self.grid, values, strict=True)), first_seed + i)
            for values in combos
            for i in range(self.seeds)
        ]

    def config(self, cell: Cell) -> dict:
        """The cell's full training configuration, checked against the schema."""
        options = {**self.base, **dict(cell.settings), "seed": cell.seed, "store": self.store}
        if self.steps is not None:
            options["max_steps"] = self.steps
        try:
            return resolve({}, options)
        except InputError as e:
            raise InputError(f"cell {cell.name}: {e}") from e

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def prepare(out: Path, ablation: Ablation) -> list[Cell]:
    """Check every cell's configuration, record the ablation in ``out`` (or check it is the one recorded there)."""
    cells = ablation.cells()
    for cell in cells:
        ablation.config(cell)
    record = out / "ablation.json"
    wanted = json.loads(json.dumps(ablation.to_json()))
    if record.exists():
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved != wanted:
            changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
            raise InputError(
                f"{out} holds another ablation (it differs in: {', '.join(changed)}); rerun it with the same "
                "options to continue it, or choose another --out"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    return cells


def cell_run(out: Path, cell: Cell) -> Path:
    return out / CELLS / cell.name / "run"


def cell_report(out: Path, cell: Cell, ablation: Ablation) -> Path:
    return default_output(cell_run(out, cell), ablation.split, ablation.inference)


def run_cell(out: Path, cell: Cell, ablation: Ablation, progress: bool = False) -> Path:
    """Train (or finish training) and evaluate one cell; returns its evaluation report's path."""
    from ..train.loop import train  # torch and transformers load only when a cell runs

    run_dir = cell_run(out, cell)
    report_path = cell_report(out, cell, ablation)
    if report_path.exists():
        return report_path
    config, resume = start_or_resume(run_dir, ablation.config(cell))
    train(config, run_dir, resume=resume, progress=progress)
    report, videos = evaluate(run_dir, split=ablation.split, mode=ablation.inference, progress=progress)
    return write(report, videos, report_path)


def training_workers(workers: int):
    """How a local cluster's workers train cells: they import mmprep's training code once (not MediaPipe), share
    the cores between them (torch's thread pools sized to cores / workers, at least one thread), and a cell
    whose worker process dies is tried once more (a crash of one training is rarely the next one's)."""
    from ..cluster import WorkerSetup, default_workers

    threads = str(max(1, default_workers() // workers))
    environ = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return WorkerSetup(("distributed", "prep.analysis.ablate"), environ, retries_after_crash=1)


def run(
    out: Path,
    ablation: Ablation,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> dict:
    """Run every unfinished cell (in this process, or on a dask cluster when ``workers`` or ``scheduler`` is
    given), then write the comparison. Returns the paths written and the counts."""
    cells = prepare(out, ablation)
    todo = [c for c in cells if not cell_report(out, c, ablation).exists()]
    say(f"{len(cells)} cells ({len(cells) - len(todo)} finished before, {len(todo)} to run) in {out}")
    if todo and (workers or scheduler):
        from distributed import as_completed

        from ..cluster import connect, default_workers

        with connect(training_workers(workers or default_workers()), workers, scheduler) as client:
            futures = {client.submit(run_cell, out, c, ablation, pure=False): c for c in todo}
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                say(f"[{done}/{len(todo)}] {futures[future].name}: done")
    else:
        for i, cell in enumerate(todo, 1):
            say(f"[{i}/{len(todo)}] {cell.name}: training and evaluating")
            run_cell(out, cell, ablation, progress=progress)
    return {"cells": len(cells), "ran": len(todo), **summarize(out, ablation, cells)}


# ---------------------------------------------------------------------------------------------- comparison
def result_row(cell: Cell, report: dict, run_dir: Path) -> dict:
    """A row of results.csv: the cell's settings and seed, and every figure of its evaluation report."""
    row = {**{k: format_value(v) for k, v in cell.settings}, "seed": cell.seed, "step": report["step"]}
    _, dev = read_metrics(run_dir)
    row["dev_bleu_best"] = max((r["dev_bleu"] for r in dev), default=None)
    effect = report["text_effect"] or {}
    accuracy = effect.get("ambiguous_accuracy") or {}
    row["outputs_changed_by_text"] = effect.get("outputs_changed")
    row["ambiguous_accuracy_with_text"] = accuracy.get("with_text")
    row["ambiguous_accuracy_without_text"] = accuracy.get("without_text")
    ceilings = effect.get("ceilings") or {}  # a synth store's: the best BLEU-4 of the with-text videos
    row["with_text_ceiling"] = ceilings.get("with_text_bleu4")
    row["pose_only_ceiling"] = ceilings.get("pose_only_bleu4")
    for prefix, part in (("", report), ("with_text_", report["with_text"])):
        for suffix in ("", "_without_text"):
            for n in ("1", "4"):
                row[f"{prefix}bleu{n}{suffix}"] = None if part is None else part["bleu" + suffix][n]
            row[f"{prefix}rouge_l{suffix}"] = None if part is None else part["rouge_l" + suffix]
        for name in METRIC_NAMES:
            row[f"{prefix}{name}"] = None if part is None else part["consistency"][name]["value"]
            row[f"{prefix}{name}_pass"] = None if part is None else part["consistency"][name]["pass"]
        row[f"{prefix}consistent"] = None if part is None else part["consistency"]["pass"]
        row[f"{prefix}consistency_verdict"] = None if part is None else part["consistency"]["verdict"]
    return row


def spread(values: list, spec: str) -> str:
    """``mean [low, high]`` over seeds (the 95 % t-interval of the mean) in format ``spec``; the value alone for
    one seed; n/a when undefined."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return format(values[0], spec)
    mean, low, high = mean_ci(values)
    return f"{format(mean, spec)} [{format(low, spec)}, {format(high, spec)}]"


def _count(values: list) -> str:
    return f"{sum(bool(v) for v in values)}/{len(values)}"


# (column, results.csv key, format) of summary.md and summary.csv; the last column counts passes.
SUMMARY_COLUMNS = [
    ("best dev BLEU-4 (training)", "dev_bleu_best", ".2f"),
    ("BLEU-4 A", "bleu4", ".2f"),
    ("BLEU-4 B", "bleu4_without_text", ".2f"),
    ("ROUGE-L A", "rouge_l", ".2f"),
    ("with-text BLEU-4 A", "with_text_bleu4", ".2f"),
    ("with-text BLEU-4 B", "with_text_bleu4_without_text", ".2f"),
    ("ambiguous acc. A", "ambiguous_accuracy_with_text", ".2f"),
    ("ambiguous acc. B", "ambiguous_accuracy_without_text", ".2f"),
    ("delta BLEU (text)", "with_text_delta_bleu", ".2f"),
    ("KL (text)", "with_text_kl", ".2g"),
    ("conf. std (text)", "with_text_confidence_std", ".2g"),
    ("Spearman (text)", "with_text_spearman", ".2f"),
    ("consistent (text)", "with_text_consistent", None),
]


def summarize(out: Path, ablation: Ablation, cells: list[Cell]) -> dict:
    """Write results.csv, summary.csv, summary.md and loss_curves.png from the finished cells."""
    rows, curves = [], {}
    for cell in cells:
        path = cell_report(out, cell, ablation)
        if not path.exists():
            continue
        report, _ = read(path)
        rows.append(result_row(cell, report, cell_run(out, cell)))
        curves.setdefault(cell.setting, []).append(read_metrics(cell_run(out, cell)))
    if not rows:
        return {}
    _write_csv(out / "results.csv", rows)
    keys = list(ablation.grid)
    summary = []
    for setting in dict.fromkeys(cell.setting for cell in cells):
        group = [r for r in rows if ",".join(f"{k}={r[k]}" for k in keys) == setting]
        if group:
            line = {k: group[0][k] for k in keys} | {"seeds": len(group)}
            for title, key, spec in SUMMARY_COLUMNS:
                values = [r[key] for r in group]
                line[title] = _count(values) if spec is None else spread(values, spec)
            summary.append(line)
    _write_csv(out / "summary.csv", summary)
    (out / "summary.md").write_text(markdown(summary, ablation), encoding="utf-8")
    plot_curves(curves, out / "loss_curves.png")
    return {"results": out / "results.csv", "summary": out / "summary.md", "curves": out / "loss_curves.png"}


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown(summary: list[dict], ablation: Ablation) -> str:
    header = list(summary[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in summary]
    notes = (
        f"\n{ablation.split} split, {ablation.inference.tag} inference, best checkpoint of each run; mean over seeds "
        "[95 % t-interval of the mean]. A: real descriptions where present; B: the placeholder for every video. "
        "The with-text and consistency (text) columns are on the videos that have a description, the only ones "
        "where A and B differ; targets: |delta BLEU| < 2, KL < 0.1, confidence std < 0.05, Spearman > 0.9; "
        "'consistent' counts the seeds that meet all four. Every number per seed is in results.csv.\n"
    )
    return "\n".join(lines) + "\n" + notes


def plot_curves(curves: dict[str, list[tuple[list[dict], list[dict]]]], path: Path) -> None:
    """Training loss (mean over seeds, each seed faint) and dev BLEU per grid setting, overlaid; ``curves`` holds
    each seed's ``read_metrics``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    palette = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    for i, (setting, runs) in enumerate(curves.items()):
        colour = palette(i % palette.N)
        per_step: dict[int, list[float]] = {}
        for steps_logged, _ in runs:
            losses = {r["step"]: r["loss"] for r in steps_logged}
            left.plot(list(losses), list(losses.values()), color=colour, alpha=0.25, linewidth=0.7)
            for step, loss in losses.items():
                per_step.setdefault(step, []).append(loss)
        steps = sorted(per_step)
        left.plot(steps, [statistics.fmean(per_step[s]) for s in steps], color=colour, label=setting, linewidth=1.4)
        dev: dict[int, list[float]] = {}
        for _, evaluations in runs:
            for r in evaluations:
                dev.setdefault(r["step"], []).append(r["dev_bleu"])
        right.plot(sorted(dev), [statistics.fmean(dev[s]) for s in sorted(dev)], color=colour, marker=".")
    left.set(title="training loss (mean over seeds; faint: each seed)", xlabel="step", ylabel="loss")
    right.set(title="dev BLEU-4 after each epoch (mean over seeds)", xlabel="step", ylabel="BLEU (0-100)")
    left.legend(fontsize=7)
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
