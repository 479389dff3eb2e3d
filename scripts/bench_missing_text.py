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
    bleu4_with_text_C                      ... and with another video's description (scenario C)
    ambiguous_accuracy_A, _B, _C           its accuracy on the words only the description tells apart (0.5 = chance)
    hallucination_rate_A, _C               the share of named words whose sign the video does not show that it
                                           writes, with its own description and with another's

The store options --text-distractors, --text-style and --text-errors make descriptions as people write them
(docs/data.md); --text-ratio takes one share or three (train, dev, test), e.g. 0.0286,0.2,0.2 for 64 described
training videos among 2,240 and the usual test split. --skip-pose-only leaves the pose-only baseline out (its
figures are then null): for settings that only ask how well the model reads the description.

--seeds S1 S2 ... runs the whole benchmark once per seed (store and trainings), in OUT/seed-S, and writes
OUT/summary.json: the mean and 95% t-interval over seeds of every figure, of each ratio to its ceiling, and of
the paired differences A - B and B - pose-only (the design's "no drop without text").

--set KEY=VALUE changes a training option of both runs (as `mmprep train --KEY VALUE`), so any configuration
can be checked. --mode (with --alpha or --factor) evaluates the model in another inference mode; the pose-only
baseline is evaluated missing-aware in every case (it never reads text). A finished step is not rerun: rerunning
with the same --out continues, an interrupted training from its last checkpoint.

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
    python scripts/bench_missing_text.py --seeds 0 1 2 --baseline bench-out/default --mode ensemble --out bench-out/ensemble
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import prep
from prep.analysis import intervals
from prep.evaluate import InferenceMode, default_output
from prep.synth import TEXT_DEFAULTS
from prep.text.tiny_mt5 import build_tiny_mt5
from prep.train.config import defaults, parse_value
from prep.train.run_dir import checkpoint_path, read_metrics

MMPREP = str(Path(sys.executable).with_name("mmprep"))
EPOCHS = defaults()["epochs"]  # the schema's: the benchmark is `mmprep train`'s defaults
TRAINED = "trained.done"  # in a run directory: its training ended (a best checkpoint alone may be an interrupted one)
STORE_OPTIONS = ("videos", "vocab", "ambiguous_pairs", "text_ratio", "text_info", "splits", "seed",
                 "text_distractors", "text_style", "text_errors")  # fmt: skip
# The store options added later, at the values that make the stores made before them (synth's own rule): a
# benchmark of then is a baseline for one of now.
STORE_DEFAULTS = TEXT_DEFAULTS


def store_options(source) -> dict:
    """The store options of ``args`` (a namespace) or of a results.json's ``store``, those added later filled in."""
    given = source if isinstance(source, dict) else {k: getattr(source, k) for k in STORE_OPTIONS}
    return {**STORE_DEFAULTS, **given}


def text_ratio(value: str) -> float | str:
    """One share (a number), or three, train, dev and test (kept as written: `mmprep synth` reads them)."""
    if "," in value:
        shares = value.split(",")
        if len(shares) != 3:
            raise argparse.ArgumentTypeError(f"{value!r} is not one share nor three (train, dev, test)")
        return ",".join(str(float(x)) for x in shares)
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=800)
    parser.add_argument("--vocab", type=int, default=12)
    parser.add_argument("--ambiguous-pairs", type=int, default=4)
    parser.add_argument("--text-ratio", type=text_ratio, default=0.5, help="one share, or train,dev,test")
    parser.add_argument("--text-info", type=float, default=1.0)
    parser.add_argument("--text-distractors", type=int, default=0)
    parser.add_argument("--text-style", choices=("list", "sentence"), default="list")
    parser.add_argument("--text-errors", type=float, default=0.0)
    parser.add_argument("--skip-pose-only", action="store_true", help="train and evaluate no pose-only baseline")
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
    parser.add_argument("--mode", default="missing-aware", help="the model's inference mode (`mmprep eval --mode`)")
    parser.add_argument("--alpha", type=float, help="--mode conservative: the gate's factor")
    parser.add_argument("--factor", type=float, help="--mode adaptive: the gate's factor without text")
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
    InferenceMode(args.mode, args.alpha, args.factor)  # checks the mode's options before anything runs
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
              "pose_only_bleu4_all", "bleu4_with_text_C", "ambiguous_accuracy_C", "hallucination_rate_A",
              "hallucination_rate_C", "hallucination_rate_without_text_A", "hallucination_rate_without_text_C",
              "C_minus_B_rest", "C_minus_B_from_pair_words", "kl_with_text", "mask_moved",
              "mask_distance_text_mean")  # fmt: skip


def figures(results: list[dict]) -> dict[str, list]:
    """Every figure of the summary, a list over seeds: the results' own, each ratio to its ceiling, and the
    paired differences that answer the benchmark's questions (A - B, and B - the pose-only baseline; A - C and
    C - B). A figure a result lacks (made before it existed, or left out) is None."""
    columns = {key: [r.get(key) for r in results] for key in SUMMARISED}

    def combined(f, *keys):
        return [None if any(r.get(k) is None for k in keys) else f(*(r[k] for k in keys)) for r in results]

    columns["A_over_with_text_ceiling"] = combined(lambda a, c: a / c, "bleu4_with_text_A", "with_text_ceiling")
    columns["pose_only_over_its_ceiling"] = combined(lambda a, c: a / c, "pose_only_bleu4", "pose_only_ceiling")
    columns["A_minus_B"] = combined(lambda a, b: a - b, "bleu4_with_text_A", "bleu4_with_text_B")
    columns["B_minus_pose_only"] = combined(lambda a, b: a - b, "bleu4_with_text_B", "pose_only_bleu4")
    columns["A_minus_C"] = combined(lambda a, c: a - c, "bleu4_with_text_A", "bleu4_with_text_C")
    columns["C_minus_B"] = combined(lambda c, b: c - b, "bleu4_with_text_C", "bleu4_with_text_B")
    columns["A_minus_pose_only"] = combined(lambda a, b: a - b, "bleu4_with_text_A", "pose_only_bleu4")
    columns["all_A_minus_pose_only"] = combined(lambda a, b: a - b, "bleu4_all_A", "pose_only_bleu4_all")
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
        if store_options(new["store"]) != store_options(old["store"]):
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
    if store_options(baseline["store"]) != store_options(args):
        raise SystemExit(f"{source} was made with other store options than these: give the baseline's")
    same_training = baseline["settings"] == args.set and baseline.get("epochs", EPOCHS) == args.epochs
    for name in ("synth.zarr", "synth.done", "encoder", "encoded.done", "mask.done", "pose-only",
                 *(["model"] if same_training else [])):  # fmt: skip
        if not os.path.lexists(out / name):  # a link to what the baseline has not made yet is kept too
            (out / name).symlink_to(source / name)


def training_words(run: Path, store: Path, options: list) -> list:
    """`mmprep train`'s arguments for ``run``: a new run, or the continuation of one with a last checkpoint (a
    finished run's continuation stops at once); a run stopped before its first checkpoint starts again."""
    if checkpoint_path(run, "last").exists():
        return ["--resume", run, "-q"]
    if os.path.lexists(run):
        shutil.rmtree(run)
    return ["--store", store, "--out", run, *options, "-q"]


def mask_position(run: Path) -> dict:
    """Where the run's mask embedding ended (the last logged step's ``mask_moved`` and ``mask_distance_text_mean``,
    docs/missing-modality.md section 6), None for a run without a mask or from before they were logged."""
    steps, _ = read_metrics(run)
    last = next((r for r in reversed(steps) if r.get("mask_cos_init") is not None), {})
    return {key: last.get(key) for key in ("mask_cos_init", "mask_moved", "mask_distance_text_mean")}


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
    described = [
        f"--{k.replace('_', '-')}={getattr(args, k)}" for k in STORE_DEFAULTS if getattr(args, k) != STORE_DEFAULTS[k]
    ]
    mmprep("synth", "synth", store, "--videos", args.videos, "--vocab", args.vocab, "--ambiguous-pairs",
           args.ambiguous_pairs, "--text-ratio", args.text_ratio, "--text-info", args.text_info, *described,
           "--splits", args.splits, "--seed", args.seed, done=out / "synth.done")  # fmt: skip
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
    trainings = [("model", []), *([] if args.skip_pose_only else [("pose-only", ["--text-dropout", "1.0"])])]
    processes = [
        process
        for name, extra in trainings
        for process in start(f"train {name}", "train", *training_words(out / name, store, options + extra),
                             done=out / name / TRAINED, threads=max(1, (os.cpu_count() or 2) // 2))
    ]  # fmt: skip
    for process in processes:
        finish(process)
    for name, _ in trainings:
        (out / name / TRAINED).touch()
    modes = {"model": InferenceMode(args.mode, args.alpha, args.factor), "pose-only": InferenceMode()}
    for name, _ in trainings:
        report = default_output(out / name, args.split, modes[name], args.beam)
        mode_words = ["--mode", modes[name].name]
        mode_words += [] if modes[name].alpha is None else ["--alpha", modes[name].alpha]
        mode_words += [] if modes[name].factor is None else ["--factor", modes[name].factor]
        mmprep(f"eval {name}", "eval", out / name, "--split", args.split, "--beam", args.beam, *mode_words, "--out",
               report, "-q", done=report)  # fmt: skip
        reports[name] = json.loads(report.read_text(encoding="utf-8"))

    model = reports["model"]["text_effect"]
    pose_only = reports.get("pose-only")
    baseline = pose_only["text_effect"] if pose_only else None
    ceilings = model["ceilings"]
    results = {
        "store": {k: getattr(args, k) for k in STORE_OPTIONS},
        "split": args.split,
        "n_with_text": model["n"],
        "pose_only_ceiling": ceilings["pose_only_bleu4"],
        "with_text_ceiling": ceilings["with_text_bleu4"],
        "pose_only_bleu4": baseline and baseline["bleu4_without_text"],
        "bleu4_with_text_A": model["bleu4_with_text"],
        "bleu4_with_text_B": model["bleu4_without_text"],
        "delta_A_B_ci": model["ci"],
        "ambiguous_accuracy_A": model["ambiguous_accuracy"]["with_text"],
        "ambiguous_accuracy_B": model["ambiguous_accuracy"]["without_text"],
        "pose_only_ambiguous_accuracy": baseline and baseline["ambiguous_accuracy"]["without_text"],
        "bleu4_all_A": reports["model"]["bleu"]["4"],
        "pose_only_bleu4_all": pose_only and pose_only["bleu_without_text"]["4"],
        **stranger_figures(model),
        "verdict": model["verdict"],
        "consistency_verdict": reports["model"]["with_text"]["consistency"]["verdict"],
        "kl_with_text": reports["model"]["with_text"]["consistency"]["kl"]["value"],
        **mask_position(out / "model"),
        "settings": args.set,
        "epochs": args.epochs,
        "beam": args.beam,
        "mode": modes["model"].tag,
        "commands": commands,
        "seconds": seconds,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.split} split, {model['n']} with-text videos (store: {results['store']})")
    if baseline:
        print(f"  pose-only baseline   BLEU-4 {results['pose_only_bleu4']:6.2f}   ceiling "
              f"{ceilings['pose_only_bleu4']:6.2f}   ratio "
              f"{results['pose_only_bleu4'] / max(ceilings['pose_only_bleu4'], 1e-9):.2f}")  # fmt: skip
    for scenario, ceiling in (("A", ceilings["with_text_bleu4"]), ("B", ceilings["pose_only_bleu4"]),
                              ("C", ceilings["pose_only_bleu4"])):  # fmt: skip
        if results[f"bleu4_with_text_{scenario}"] is None:
            continue
        value = results[f"bleu4_with_text_{scenario}"]
        accuracy = results[f"ambiguous_accuracy_{scenario}"]
        words = "" if accuracy is None else f"   ambiguous words {accuracy:.2f}"  # None: the store has no pairs
        print(f"  model, scenario {scenario}   BLEU-4 {value:6.2f}   ceiling {ceiling:6.2f}   ratio "
              f"{value / max(ceiling, 1e-9):.2f}{words}")  # fmt: skip
    print(f"  A - B {model['delta_bleu4']:+.2f}, 95% CI [{model['ci'][0]:.2f}, {model['ci'][1]:.2f}]; "
          f"consistency {results['consistency_verdict']}; {model['statement']}")  # fmt: skip
    for scenario in ("A", "C"):
        if results[f"hallucination_rate_{scenario}"] is not None:
            print(f"  hallucination rate {scenario}: {results[f'hallucination_rate_{scenario}']:.3f} "
                  f"(without text {results[f'hallucination_rate_without_text_{scenario}']:.3f})")  # fmt: skip
    print(f"  seconds: {seconds}; results: {out / 'results.json'}")
    return results


def stranger_figures(effect: dict) -> dict:
    """Scenario C's figures and the hallucination rates of a report's text effect (None where it has none)."""
    stranger, rates = effect.get("stranger"), effect.get("hallucination") or {}
    split = stranger and stranger["pair_words"]
    figures = {
        "bleu4_with_text_C": stranger and stranger["bleu4"],
        "delta_A_C_ci": stranger and stranger["ci_a_minus_c"],
        "delta_C_B_ci": stranger and stranger["ci_c_minus_b"],
        "ambiguous_accuracy_C": stranger and stranger["ambiguous_accuracy"],
        "C_minus_B_rest": split and split["rest"],
        "C_minus_B_from_pair_words": split and split["from_pair_words"],
    }
    for scenario in ("A", "C"):
        rate = rates.get(scenario) or {}
        figures[f"hallucination_rate_{scenario}"] = rate.get("rate")
        figures[f"hallucination_rate_without_text_{scenario}"] = rate.get("rate_without_text")
        figures[f"hallucination_n_{scenario}"] = rate.get("n")
    return figures


if __name__ == "__main__":
    main()
