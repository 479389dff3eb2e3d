"""Does the model use the description? The missing-text benchmark, on a synthetic store whose answer is known.

    python scripts/bench_missing_text.py --out bench-out/missing-text            # the text-decisive store
    python scripts/bench_missing_text.py --ambiguous-pairs 0 --out bench-out/clean  # no word needs the text

Runs, as a user would (each an `mmprep` command, listed in results.json): `mmprep synth` (every word of the
description names a sign with probability --text-info; the --ambiguous-pairs pairs of words share one sign, so
only the description tells them apart), a tiny text encoder trained on the store's text, `encode-text` (with per-token features),
`init-mask`, then two trainings with the same settings and seed: the default model, and the pose-only
baseline (the same model never shown text: --text-dropout 1.0), and `mmprep eval` of both on --split.
Prints each figure against the store's ceilings and writes DIR/results.json:

    pose_only_ceiling, with_text_ceiling   the best BLEU-4 on the split's with-text videos from poses alone and
                                           with the description (computed by the generator)
    pose_only_bleu4                        the baseline model on those videos
    bleu4_with_text_A, bleu4_with_text_B   the default model on them, with their description and without
    ambiguous_accuracy_A, _B               its accuracy on the words only the description tells apart (0.5 = chance)

--seeds S1 S2 ... runs the whole benchmark once per seed (store and trainings), in OUT/seed-S, and writes
OUT/summary.json: the mean and 95% t-interval over seeds of every figure, of each ratio to its ceiling, and of
the paired differences A - B and B - pose-only (the design's "no drop without text").

--set KEY=VALUE changes a training option of both runs (as `mmprep train --KEY VALUE`), so any configuration
can be checked. A finished step is not rerun: rerunning with the same --out continues.

--baseline DIR (with --seeds) compares a setting with an earlier benchmark on the same stores, paired by seed:

    python scripts/bench_missing_text.py --seeds 0 1 2 --out bench-out/default
    python scripts/bench_missing_text.py --seeds 0 1 2 --baseline bench-out/default \
        --set text_ratio=0.5 --epochs 67 --out bench-out/ratio-0.5

Each seed's store, text encoder, text features and pose-only model are DIR/seed-S's (linked, not rebuilt: the
store options must be DIR's; the pose-only model was trained with DIR's settings), so only the model with the
new settings is trained, and OUT/summary.json gets `against_baseline`: every figure minus DIR's, paired by
seed, with its mean and 95% t-interval. With DIR's training settings (no other --set or --epochs) its models
are linked too, and only the evaluations run: a decoding compared on the same models.

    python scripts/bench_missing_text.py --seeds 0 1 2 --baseline bench-out/default --beam 4 --out bench-out/beam-4
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import prep
from prep.analysis import intervals
from prep.text.tiny_mt5 import build_tiny_mt5
from prep.train.config import defaults, parse_value

MMPREP = str(Path(sys.executable).with_name("mmprep"))
EPOCHS = defaults()["epochs"]  # the schema's: the benchmark is `mmprep train`'s defaults
STORE_OPTIONS = ("videos", "vocab", "ambiguous_pairs", "text_ratio", "text_info", "splits", "seed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=800)
    parser.add_argument("--vocab", type=int, default=12)
    parser.add_argument("--ambiguous-pairs", type=int, default=4)
    parser.add_argument("--text-ratio", type=float, default=0.5)
    parser.add_argument("--text-info", type=float, default=1.0)
    parser.add_argument(
        "--splits",
        default="0.8,0.1,0.1",
        help="train, dev, test shares of the store; e.g. --videos 1200 --splits 0.533,0.067,0.4 keeps the training "
        "set of 640 videos and evaluates 480 (240 with text) instead of 80",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the store and of both trainings")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--split", default="test", help="the split evaluated (default: test)")
    parser.add_argument("--beam", type=int, default=1, help="beam size of both evaluations (default 1: greedy)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a training option")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="S",
        help="run the benchmark once per seed, in OUT/seed-S, and summarise: mean and 95%% CI",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="an earlier --seeds benchmark: reuse its stores and pose-only models, and report every figure's "
        "difference to its model, paired by seed",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.baseline and not args.seeds:
        parser.error("--baseline needs --seeds: the comparison is paired by seed")
    if not args.seeds:
        run(args, args.out.resolve())
        return
    results = [run(argparse.Namespace(**{**vars(args), "seed": seed}), args.out.resolve() / f"seed-{seed}")
               for seed in args.seeds]  # fmt: skip
    summary = summarize(results)
    path = args.out.resolve() / "summary.json"
    print(f"\nover seeds {args.seeds}: mean [95% CI] (t distribution, {len(results) - 1} degrees of freedom)")
    print_metrics(summary["metrics"])
    if args.baseline:
        summary["against_baseline"] = against(results, [read_results(args.baseline, s) for s in args.seeds])
        print(f"minus the baseline {args.baseline} ({summary['against_baseline']['settings'] or 'defaults'}), "
              "paired by seed:")  # fmt: skip
        print_metrics(summary["against_baseline"]["metrics"])
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"  summary: {path}")


def print_metrics(metrics: dict) -> None:
    for key, value in metrics.items():
        if value["mean"] is not None:
            print(f"  {key:34s} {value['mean']:7.2f}  [{value['ci'][0]:7.2f}, {value['ci'][1]:7.2f}]")


SUMMARISED = ("pose_only_ceiling", "with_text_ceiling", "pose_only_bleu4", "bleu4_with_text_A", "bleu4_with_text_B",
              "ambiguous_accuracy_A", "ambiguous_accuracy_B", "pose_only_ambiguous_accuracy", "bleu4_all_A",
              "pose_only_bleu4_all")  # fmt: skip


def figures(results: list[dict]) -> dict[str, list]:
    """Every figure of the summary, a list over seeds: the results' own, each ratio to its ceiling, and the
    paired differences that answer the benchmark's questions (A - B, and B - the pose-only baseline)."""
    columns = {key: [r[key] for r in results] for key in SUMMARISED}
    columns["A_over_with_text_ceiling"] = [r["bleu4_with_text_A"] / r["with_text_ceiling"] for r in results]
    columns["pose_only_over_its_ceiling"] = [r["pose_only_bleu4"] / r["pose_only_ceiling"] for r in results]
    columns["A_minus_B"] = [r["bleu4_with_text_A"] - r["bleu4_with_text_B"] for r in results]
    columns["B_minus_pose_only"] = [r["bleu4_with_text_B"] - r["pose_only_bleu4"] for r in results]
    return columns


def summarize(results: list[dict]) -> dict:
    """Mean and 95% t-interval over seeds of every figure."""
    columns = figures(results)
    return {"seeds": [r["store"]["seed"] for r in results], "metrics": {k: mean_ci(v) for k, v in columns.items()},
            "per_seed": columns}  # fmt: skip


def against(results: list[dict], baseline: list[dict]) -> dict:
    """Every figure of ``results`` minus the ``baseline``'s, paired by seed (the same stores), with the mean and
    95% t-interval of the differences. The stores' own figures (the ceilings) are left out: they are equal."""
    for new, old in zip(results, baseline, strict=True):
        if new["store"] != old["store"]:
            raise SystemExit(f"the baseline's store {old['store']} is not this one's {new['store']}")
    ours, theirs = figures(results), figures(baseline)
    differences = {
        key: [None if a is None or b is None else a - b for a, b in zip(ours[key], theirs[key], strict=True)]
        for key in ours
        if key not in ("pose_only_ceiling", "with_text_ceiling")
    }
    return {"settings": baseline[0]["settings"], "metrics": {k: mean_ci(v) for k, v in differences.items()},
            "per_seed": differences}  # fmt: skip


def link_baseline(args: argparse.Namespace, out: Path) -> None:
    """Link the baseline's store, text encoder, features and pose-only model into ``out``, and its model too
    when it was trained as this one would be (the same --set and --epochs): then only the evaluations run."""
    source = args.baseline.resolve() / f"seed-{args.seed}"
    baseline = read_results(args.baseline, args.seed)
    if baseline["store"] != {k: getattr(args, k) for k in STORE_OPTIONS}:
        raise SystemExit(f"{source} was made with other store options than these: give the baseline's")
    same_training = baseline["settings"] == args.set and baseline.get("epochs", EPOCHS) == args.epochs
    for name in ("synth.zarr", "synth.done", "encoder", "encoded.done", "mask.done", "pose-only",
                 *(["model"] if same_training else [])):  # fmt: skip
        if not os.path.lexists(out / name):  # a link to what the baseline has not made yet is kept too
            (out / name).symlink_to(source / name)


def read_results(baseline: Path, seed: int) -> dict:
    path = baseline.resolve() / f"seed-{seed}" / "results.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run the baseline benchmark with seed {seed} first")
    return json.loads(path.read_text(encoding="utf-8"))


def mean_ci(values: list) -> dict:
    if any(v is None for v in values):
        return {"mean": None, "ci": None}
    mean, low, high = intervals.mean_ci(values)
    return {"mean": mean, "ci": [low, high]}


def run(args: argparse.Namespace, out: Path) -> dict:
    """One benchmark into ``out``: the store, its encoder, both trainings and evaluations; returns results.json."""
    out.mkdir(parents=True, exist_ok=True)
    commands: list[str] = []
    seconds: dict[str, float] = {}

    def mmprep(step: str, *words, done: Path | None = None) -> None:
        for process in start(step, *words, done=done):
            finish(process)

    running: dict[subprocess.Popen, tuple[str, float]] = {}

    def start(step: str, *words, done: Path | None = None, threads: int | None = None) -> list[subprocess.Popen]:
        commands.append(shlex.join(["mmprep", *map(str, words)]))
        if done is not None and done.exists():
            return []
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None
        process = subprocess.Popen([MMPREP, *map(str, words)], cwd=out, stdout=subprocess.DEVNULL, env=env)
        running[process] = (step, time.perf_counter())
        return [process]

    def finish(process: subprocess.Popen) -> None:
        step, started = running.pop(process)
        if process.wait():
            raise SystemExit(f"{step} failed (exit status {process.returncode}): {commands}")
        seconds[step] = round(time.perf_counter() - started, 1)

    if args.baseline:
        link_baseline(args, out)
    store = out / "synth.zarr"
    mmprep("synth", "synth", store, "--videos", args.videos, "--vocab", args.vocab, "--ambiguous-pairs",
           args.ambiguous_pairs, "--text-ratio", args.text_ratio, "--text-info", args.text_info, "--splits",
           args.splits, "--seed", args.seed, done=out / "synth.done")  # fmt: skip
    (out / "synth.done").touch()
    encoder = out / "encoder"
    if not (encoder / "config.json").exists():
        synth = prep.open_store(str(store))
        sentences = [str(t) for column in ("description", "translation") for t in synth.column(column) if t]
        build_tiny_mt5(sentences, encoder, vocab_size=300, d_model=64, seed=args.seed)
    mmprep("encode-text", "encode-text", "--store", store, "--model", encoder, done=out / "encoded.done")
    (out / "encoded.done").touch()
    mmprep("init-mask", "init-mask", "--store", store, done=out / "mask.done")
    (out / "mask.done").touch()

    options = ["--backbone", "tiny", "--epochs", args.epochs, "--seed", args.seed]
    for item in args.set:
        key, _, text = item.partition("=")
        key = key.strip().replace("-", "_")
        value, flag = parse_value(key, text.strip()), "--" + key.replace("_", "-")
        if isinstance(value, bool):  # boolean options are --name / --no-name
            options.append(flag if value else "--no-" + flag[2:])
        else:
            options += [flag, text.strip()]
    reports = {}
    # The two trainings run side by side, one thread each: on a 2-core machine that is twice as fast as in turn.
    trainings = [("model", []), ("pose-only", ["--text-dropout", "1.0"])]
    processes = [
        process
        for name, extra in trainings
        for process in start(f"train {name}", "train", "--store", store, "--out", out / name, *options, *extra, "-q",
                             done=out / name / "checkpoints" / "best.pt", threads=max(1, (os.cpu_count() or 2) // 2))
    ]  # fmt: skip
    for process in processes:
        finish(process)
    for name, _ in trainings:
        beam = "" if args.beam == 1 else f"-beam{args.beam}"
        report = out / name / "eval" / f"{args.split}-missing-aware{beam}.json"
        mmprep(f"eval {name}", "eval", out / name, "--split", args.split, "--beam", args.beam, "--out", report, "-q",
               done=report)  # fmt: skip
        reports[name] = json.loads(report.read_text(encoding="utf-8"))

    model, baseline = reports["model"]["text_effect"], reports["pose-only"]["text_effect"]
    ceilings = model["ceilings"]
    results = {
        "store": {k: getattr(args, k) for k in STORE_OPTIONS},
        "split": args.split,
        "n_with_text": model["n"],
        "pose_only_ceiling": ceilings["pose_only_bleu4"],
        "with_text_ceiling": ceilings["with_text_bleu4"],
        "pose_only_bleu4": baseline["bleu4_without_text"],
        "bleu4_with_text_A": model["bleu4_with_text"],
        "bleu4_with_text_B": model["bleu4_without_text"],
        "delta_A_B_ci": model["ci"],
        "ambiguous_accuracy_A": model["ambiguous_accuracy"]["with_text"],
        "ambiguous_accuracy_B": model["ambiguous_accuracy"]["without_text"],
        "pose_only_ambiguous_accuracy": baseline["ambiguous_accuracy"]["without_text"],
        "bleu4_all_A": reports["model"]["bleu"]["4"],
        "pose_only_bleu4_all": reports["pose-only"]["bleu_without_text"]["4"],
        "consistency_verdict": reports["model"]["with_text"]["consistency"]["verdict"],
        "settings": args.set,
        "epochs": args.epochs,
        "beam": args.beam,
        "commands": commands,
        "seconds": seconds,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.split} split, {model['n']} with-text videos (store: {results['store']})")
    print(f"  pose-only baseline   BLEU-4 {results['pose_only_bleu4']:6.2f}   ceiling {ceilings['pose_only_bleu4']:6.2f}"
          f"   ratio {results['pose_only_bleu4'] / max(ceilings['pose_only_bleu4'], 1e-9):.2f}")  # fmt: skip
    for scenario, ceiling in (("A", ceilings["with_text_bleu4"]), ("B", ceilings["pose_only_bleu4"])):
        value = results[f"bleu4_with_text_{scenario}"]
        accuracy = results[f"ambiguous_accuracy_{scenario}"]
        words = "" if accuracy is None else f"   ambiguous words {accuracy:.2f}"  # None: the store has no pairs
        print(f"  model, scenario {scenario}   BLEU-4 {value:6.2f}   ceiling {ceiling:6.2f}   ratio "
              f"{value / max(ceiling, 1e-9):.2f}{words}")  # fmt: skip
    print(f"  A - B {model['delta_bleu4']:+.2f}, 95% CI [{model['ci'][0]:.2f}, {model['ci'][1]:.2f}]; "
          f"consistency {results['consistency_verdict']}; {model['statement']}")  # fmt: skip
    print(f"  seconds: {seconds}; results: {out / 'results.json'}")
    return results


if __name__ == "__main__":
    main()
