"""The ablation of docs/eval.md from missing-text benchmark folders: every setting paired by seed against the
pose-only model and against the default.

    python scripts/collect_ablation.py bench-out/abl/half --out docs/ablation-synth/half-described
    python scripts/collect_ablation.py bench-out/abl/half --previous docs/ablation-synth/half-described \
        --out docs/ablation-synth/half-described     # keeps the earlier settings whose runs are gone

DIR holds one `scripts/bench_missing_text.py --seeds ...` folder per setting: DIR/default (all defaults; its
pose-only model is the baseline) and DIR/<setting>, made with `--baseline DIR/default` (so the same stores, text
encoders and pose-only models; a setting that only changes the inference mode reuses the default's models). A
seed counts where its results.json exists. OUT gets:

    ablation.json        the store, the seeds, the default training configuration as the default runs resolved
                         it (their config.toml), and each setting's options, seeds, commands and whether it
                         trained a model of its own
    results.csv          one row per setting and seed: every figure of results.json and of the model's
                         evaluation report on the with-text videos
    summary.md, .csv     per setting, the mean over its seeds and the 95 % t-interval of every figure and of the
                         paired differences: against the pose-only model (A - P, B - P, all videos' A - P) and
                         against the default (A, B and the pairs' accuracy), the same seed the same store
    loss_curves.png      training loss and dev BLEU-4 of every setting that trained a model of its own

--previous OLD (an earlier OUT) adds OLD's settings that DIR lacks, e.g. ones whose runs were lost with a
machine, from OLD's results.csv: their rows are paired with DIR's default as they were with OLD's, so DIR's
default must reproduce OLD's on every seed both have, figure for figure (the same stores and models, as a
deterministic retraining gives); otherwise it is refused. A carried setting has its figures, its record in
ablation.json (`carried_from`) and its training figures, but no curve in loss_curves.png.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import statistics
from pathlib import Path

from prep.analysis.ablate import plot_curves, spread
from prep.evaluate import read
from prep.evaluate.summary import METRIC_NAMES
from prep.model.fusion import TEXT_WEIGHT
from prep.train.diagnostics import text_weight_keys
from prep.train.run_dir import EVAL, read_config, read_metrics

DEFAULT = "default"
PER_RUN = ("store", "seed", "commands", "seconds", "settings", "epochs", "beam", "mode", "split", "delta_A_B_ci")


def seeds_of(folder: Path) -> dict[int, dict]:
    """Each finished seed's results.json, by seed."""
    found = {}
    for path in sorted(folder.glob("seed-*/results.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        found[results["store"]["seed"]] = results
    return found


def row(setting: str, seed_dir: Path, results: dict) -> dict:
    """One row of results.csv: the seed's results and its model's with-text consistency figures."""
    beam = f"-beam{results['beam']}" if results.get("beam", 1) > 1 else ""
    report, _ = read(
        seed_dir / "model" / EVAL / f"{results['split']}-{results.get('mode', 'missing-aware')}{beam}.json"
    )
    line = {"setting": setting, "seed": results["store"]["seed"]}
    line |= {k: v for k, v in results.items() if k not in PER_RUN}
    for name in METRIC_NAMES:
        line[f"with_text_{name}"] = report["with_text"]["consistency"][name]["value"]
    line["with_text_consistent"] = report["with_text"]["consistency"]["pass"]
    line["outputs_changed_by_text"] = report["text_effect"]["outputs_changed"]
    return line | curve_shape(read_metrics(seed_dir / "model")[0])


def curve_shape(steps: list[dict]) -> dict:
    """What the design's claims about training are about: the training loss (mean of the logged steps) in epochs
    5 and 15 and in the last epoch; its jitter over the second half of training (the standard deviation of the
    change from one logged step to the next, over the square root of 2: the noise of one logged value); and the
    fusion's text weight (``fusion.TEXT_WEIGHT``: the gate's opening or the text step's norm share) with and
    without text in epoch 5 and in the last epoch, under the run's fusion's name."""

    def mean_in(epoch: int, key: str) -> float | None:
        values = [r[key] for r in steps if r["epoch"] == epoch and r.get(key) is not None]
        return statistics.fmean(values) if values else None

    last = max((r["epoch"] for r in steps), default=None)
    losses = [r["loss"] for r in steps[len(steps) // 2 :]]
    changes = [b - a for a, b in itertools.pairwise(losses)]
    shape = {f"loss_epoch_{e}": mean_in(e, "loss") for e in (5, 15)}
    shape["loss_last_epoch"] = mean_in(last, "loss")
    shape["loss_jitter"] = statistics.stdev(changes) / 2**0.5 if len(changes) > 1 else None
    logged = {key for r in steps for key in r}
    for key in (key for fusion in TEXT_WEIGHT for key in text_weight_keys(fusion) if key in logged):
        shape[f"{key}_epoch_5"], shape[f"{key}_last_epoch"] = mean_in(5, key), mean_in(last, key)
    return shape


def text_weight(row: dict, when: str) -> float | None:
    """The row's text weight ``when`` (``with_text_last_epoch``, ...), whichever fusion's it is."""
    return next(
        (row[key] for key in (f"{w.name}_{when}" for w in TEXT_WEIGHT.values()) if row.get(key) is not None), None
    )


def differences(rows: list[dict], reference: dict[int, dict], key: str) -> list[float]:
    """Per seed: the row's ``key`` minus the reference row's of the same seed (where both exist)."""
    return [
        r[key] - reference[r["seed"]][key]
        for r in rows
        if r["seed"] in reference and r.get(key) is not None and reference[r["seed"]].get(key) is not None
    ]


# (column, how a setting's rows give the list over seeds, format)
COLUMNS = [
    ("with-text BLEU-4 A", lambda rows, d: [r["bleu4_with_text_A"] for r in rows], ".1f"),
    ("B", lambda rows, d: [r["bleu4_with_text_B"] for r in rows], ".1f"),
    ("A / ceiling", lambda rows, d: [r["bleu4_with_text_A"] / r["with_text_ceiling"] for r in rows], ".2f"),
    ("pairs A", lambda rows, d: [r["ambiguous_accuracy_A"] for r in rows], ".2f"),
    ("pairs B", lambda rows, d: [r["ambiguous_accuracy_B"] for r in rows], ".2f"),
    ("A - B", lambda rows, d: [r["bleu4_with_text_A"] - r["bleu4_with_text_B"] for r in rows], ".1f"),
    ("A - P", lambda rows, d: [r["bleu4_with_text_A"] - r["pose_only_bleu4"] for r in rows], ".1f"),
    ("B - P", lambda rows, d: [r["bleu4_with_text_B"] - r["pose_only_bleu4"] for r in rows], ".1f"),
    ("all videos A - P", lambda rows, d: [r["bleu4_all_A"] - r["pose_only_bleu4_all"] for r in rows], ".1f"),
    ("A - default", lambda rows, d: differences(rows, d, "bleu4_with_text_A"), "+.1f"),
    ("B - default", lambda rows, d: differences(rows, d, "bleu4_with_text_B"), "+.1f"),
    ("pairs A - default", lambda rows, d: differences(rows, d, "ambiguous_accuracy_A"), "+.2f"),
    ("KL (text)", lambda rows, d: [r["with_text_kl"] for r in rows], ".3f"),
    ("KL - default", lambda rows, d: differences(rows, d, "with_text_kl"), "+.3f"),
    ("mask moved", lambda rows, d: [r.get("mask_moved") for r in rows], ".2f"),
]


TRAINING_COLUMNS = [
    (title, lambda rows, d, key=key: [r.get(key) for r in rows], ".3f")
    for title, key in (("loss, epoch 5", "loss_epoch_5"), ("loss, epoch 15", "loss_epoch_15"),
                       ("loss, last epoch", "loss_last_epoch"), ("loss jitter (2nd half)", "loss_jitter"))
] + [
    (title, lambda rows, d, when=when: [text_weight(r, when) for r in rows], ".3f")
    for title, when in (("text weight with text, last epoch", "with_text_last_epoch"),
                        ("text weight without text, epoch 5", "without_text_epoch_5"),
                        ("text weight without text, last epoch", "without_text_last_epoch"))
]  # fmt: skip


def summarize(settings: dict[str, list[dict]], columns: list = COLUMNS) -> list[dict]:
    default = {r["seed"]: r for r in settings[DEFAULT]}
    lines = []
    for setting, rows in settings.items():
        line = {"setting": setting, "seeds": " ".join(str(r["seed"]) for r in rows)}
        for title, values, spec in columns:
            line[title] = (
                "(the default)"
                if title.endswith("default") and setting == DEFAULT
                else spread(values(rows, default), spec)
            )
        lines.append(line)
    return lines


def table(lines: list[dict]) -> str:
    header = list(lines[0])
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(rows + ["| " + " | ".join(str(line[h]) for h in header) + " |" for line in lines])


def markdown(lines: list[dict]) -> str:
    return table(lines) + (
        "\n\nMean over seeds [95 % t-interval]; BLEU-4 of the test split's with-text videos with their description "
        "(A) and with the placeholder (B); P: the pose-only model of the same seed (never shown text); 'pairs': the "
        "accuracy on the words only the description tells apart (0.5 is chance); 'all videos A - P': BLEU-4 over "
        "every test video, the design's 'average BLEU'; differences are paired by seed; 'mask moved': how far the "
        "mask embedding moved from mask_init, in typical distances of a description from the mean. Every figure "
        "per seed is in results.csv.\n"
    )


def training_markdown(lines: list[dict]) -> str:
    return table(lines) + (
        "\n\nTraining, for every setting that trained its own model: the loss (mean of the logged steps, each the "
        "mean of 10 optimiser steps); its jitter, the standard deviation of the change between consecutive logged "
        "values over the second half of training divided by the square root of 2; the text weight of the samples "
        "with text and of those without: the gate's mean opening (gate_opening) for a setting with --fusion gate, "
        "the text step's share of the input norm (text_norm_share) for token fusion (docs/missing-modality.md "
        "section 6). loss_curves.png draws the settings trained in this collection's folder, not those carried "
        "from an earlier collection (ablation.json: carried_from).\n"
    )


def read_csv(path: Path) -> list[dict]:
    """results.csv as ``write_csv`` wrote it: numbers and booleans as such, an empty cell as None."""

    def value(text: str):
        if text in ("", "True", "False"):
            return None if text == "" else text == "True"
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline="", encoding="utf-8") as f:
        return [{key: value(text) for key, text in line.items()} for line in csv.DictReader(f)]


def carry(previous: Path, settings: dict[str, list[dict]], record: dict[str, dict], store: dict) -> None:
    """Add to ``settings`` and ``record`` the settings of the earlier collection ``previous`` that they lack,
    after checking that both defaults are the same models (see the module's --previous)."""
    earlier = json.loads((previous / "ablation.json").read_text(encoding="utf-8"))
    rows = read_csv(previous / "results.csv")
    if earlier["store"] != store:
        raise SystemExit(f"{previous} was collected on other stores ({earlier['store']}, here {store})")
    earlier_default = {r["seed"]: r for r in rows if r["setting"] == DEFAULT}
    shared = [r for r in settings[DEFAULT] if r["seed"] in earlier_default]
    if not shared:
        raise SystemExit(f"{previous}'s default has none of the seeds here: nothing shows the models are the same")
    for now in shared:
        before = earlier_default[now["seed"]]
        changed = [
            key
            for key, value in now.items()
            if isinstance(value, int | float) and key in before and not same_number(value, before[key])
        ]
        if changed:
            raise SystemExit(
                f"the default of seed {now['seed']} differs from {previous}'s in {', '.join(changed[:4])} (e.g. "
                f"{changed[0]} {now[changed[0]]} against {before[changed[0]]}): its settings were paired with "
                "other models; run them again here instead of carrying them"
            )
    for name, was in earlier["settings"].items():
        if "trained" not in was:  # written before collect recorded it; the training table needs it
            raise SystemExit(
                f"{previous / 'ablation.json'}: setting {name!r} does not say whether it trained a model of its own; "
                'add "trained": true or false to it (false where its models are the default\'s: only --mode or --beam)'
            )
        if name not in settings:
            settings[name] = [r for r in rows if r["setting"] == name]
            record[name] = was | {"carried_from": was.get("carried_from", str(previous))}


def same_number(value: float, other) -> bool:
    return isinstance(other, int | float) and (value == other or (math.isnan(value) and math.isnan(other)))


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def collect(folder: Path, out: Path, previous: Path | None = None) -> dict[str, list[dict]]:
    """Write OUT's files from the benchmark folders under ``folder`` (and the settings of ``previous`` that it
    lacks); returns the rows by setting."""
    names = [DEFAULT, *sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != DEFAULT)]
    settings, record, curves = {}, {}, {}
    for name in names:
        found = seeds_of(folder / name)
        if not found:
            continue
        settings[name] = [row(name, folder / name / f"seed-{s}", r) for s, r in found.items()]
        first = next(iter(found.values()))
        models = [folder / name / f"seed-{s}" / "model" for s in found]
        trained = not models[0].is_symlink()  # a setting of the inference mode alone has the default's models
        record[name] = {"options": first["settings"], "epochs": first["epochs"], "mode": first.get("mode"),
                        "beam": first.get("beam", 1), "seeds": list(found), "trained": trained,
                        "commands": {s: r["commands"] for s, r in found.items()}}  # fmt: skip
        if trained:
            curves[name] = [read_metrics(model) for model in models]
    if DEFAULT not in settings:
        raise SystemExit(f"{folder / DEFAULT} has no finished seed: the default is every comparison's reference")
    out.mkdir(parents=True, exist_ok=True)
    default_seed = folder / DEFAULT / f"seed-{settings[DEFAULT][0]['seed']}"
    defaults = read_config(default_seed / "model")  # as trained, whichever mmprep wrote it
    store = json.loads((default_seed / "results.json").read_text(encoding="utf-8"))
    store_options = {k: v for k, v in store["store"].items() if k != "seed"}
    if previous is not None:
        carry(previous, settings, record, store_options)
    ablation = {"store": store_options, "split": store["split"],
                "defaults": {k: v for k, v in defaults.items() if k not in ("store", "seed") and v is not None}, "settings": record}  # fmt: skip
    (out / "ablation.json").write_text(json.dumps(ablation, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_csv(out / "results.csv", [r for rows in settings.values() for r in rows])
    lines = summarize(settings)
    write_csv(out / "summary.csv", lines)
    trained = {name: rows for name, rows in settings.items() if record[name]["trained"]}
    (out / "summary.md").write_text(
        markdown(lines) + "\n" + training_markdown(summarize(trained, TRAINING_COLUMNS)), "utf-8"
    )
    plot_curves(curves, out / "loss_curves.png")
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the folder holding DIR/default and one folder per setting")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--previous", type=Path, help="an earlier OUT whose settings missing from the folder are kept (see above)"
    )
    args = parser.parse_args()
    collect(args.folder, args.out, args.previous)
    print((args.out / "summary.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
