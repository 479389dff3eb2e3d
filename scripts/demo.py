"""`make demo`: mmprep's main job on the sample data, one command after another, as a user would run them.

First the real sample video: a manifest, MediaPipe extraction, text features from a tiny mT5 built here,
mask_init, and the store's summary. Then the point of the project, on a synthetic store whose answer is known:
some of its words come in pairs that are signed the same, so that only a video's description tells which one is
meant. A small model is trained on it, and beside it the same model never shown a description (the pose-only
model); both are evaluated on the test split, and the report compares them. The last screen says, in two
sentences, whether the model reads the description and how it does without one.

    python scripts/demo.py                       # writes demo/ (recreated on each run)
    python scripts/demo.py --seed 3 --out DIR    # another store and training: the demo is not one lucky seed
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import prep
from prep.analysis.answers import Answer, against_pose_only, main_evaluation
from prep.analysis.report import read_evaluations
from prep.tables import read_rows
from prep.text.tiny_mt5 import build_tiny_mt5

ROOT = Path(__file__).resolve().parent.parent
MMPREP = str(Path(sys.executable).with_name("mmprep"))
MANIFEST = "examples/demo-manifest.csv"
# The synthetic store and the training: small enough to learn in under two and a half minutes on two cores,
# where the model and its pose-only twin train side by side (30 epochs: seeds 0, 1, 2 reach dev BLEU-4 55, 62,
# 54 and the look-alike words 82-86 % with the description; 40 epochs learn a little more but take the whole
# demo past four minutes). 8 words, of which 2 pairs share a sign (half the words need
# the description); 70 % of the videos described, each description naming its video's words; a fifth of the
# videos held out for the test. Batches of 8 learn more per video than the default 16 in this short a training.
SYNTH = {"videos": 500, "vocab": 8, "ambiguous-pairs": 2, "text-ratio": 0.7, "text-info": 1.0, "splits": "0.7,0.1,0.2"}
TRAIN = {"backbone": "tiny", "epochs": 30, "batch-size": 8}
SPLIT = "test"  # evaluated and reported: dev chose the best checkpoint


def run(*args: str | Path) -> str:
    """``mmprep ARGS`` in the repository, echoed as a user would type it; returns what it printed (as it prints)."""
    words = [str(shown(a)) if isinstance(a, Path) else a for a in args]
    print(f"\n$ mmprep {shlex.join(words)}", flush=True)
    lines = []
    with subprocess.Popen([MMPREP, *words], cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if process.returncode:
        raise SystemExit(f"mmprep {words[0]} failed (exit status {process.returncode})")
    return "".join(lines)


def shown(path: Path) -> Path:
    """A path as the commands show it: relative to the repository when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def real_sample(out: Path) -> None:
    """The sample video through extraction, text features and mask_init, into OUT/demo.zarr."""
    store = out / "demo.zarr"
    run("manifest", MANIFEST, "--store", store)
    # The manifest's id `signing` is the sample video's path under tests/fixtures without the suffix.
    run("extract", "tests/fixtures", "--store", store, "--manifest", MANIFEST)
    # A tiny random mT5 whose vocabulary is trained on the manifest's text: encode-text loads it like a
    # downloaded checkpoint (`--model google/mt5-base` needs the hub or a copied folder).
    rows = read_rows(ROOT / MANIFEST, "manifest-row")
    sentences = [row[key] for row in rows for key in ("translation", "description") if row.get(key)]
    encoder = build_tiny_mt5(sentences, out / "tiny-mt5", vocab_size=200, d_model=64)
    print(f"\n# built a tiny random mT5 in {shown(encoder)} (prep.text.tiny_mt5.build_tiny_mt5)", flush=True)
    run("encode-text", "--store", store, "--model", encoder)
    run("init-mask", "--store", store)
    run("info", "--store", store)
    run("validate", "--store", store)


def synthetic(out: Path, seed: int) -> tuple[Path, dict, float, Answer]:
    """The synthetic store, a model trained on it and the same model never shown a description, both evaluated,
    and the report: (run, its evaluation, best dev BLEU-4, the answer against the pose-only model)."""
    store, model, pose_only = out / "synth.zarr", out / "run", out / "run-pose-only"
    run("synth", store, *flags(SYNTH), "--seed", str(seed))
    run("validate", "--store", store, "--quick")
    # The synthetic text needs its own tiny encoder: the first one's vocabulary comes from the manifest.
    synth = prep.open_store(str(store))
    sentences = [str(t) for column in ("description", "translation") for t in synth.column(column) if t]
    encoder = build_tiny_mt5(sentences, out / "synth-encoder", vocab_size=300, d_model=64, seed=seed)
    run("encode-text", "--store", store, "--model", encoder)
    run("init-mask", "--store", store)
    training = ["--store", store, *flags(TRAIN), "--seed", str(seed), "-q"]
    # --text-dropout 1.0 drops every description: the pose-only model the report compares with.
    summary, _ = together(["train", "--out", model, *training], ["train", "--out", pose_only, *training,
                                                                  "--text-dropout", "1.0"])  # fmt: skip
    together(["eval", model, "--split", SPLIT, "-q"], ["eval", pose_only, "--split", SPLIT, "-q"])
    run("report", model, "--pose-only", pose_only)
    evaluation = main_evaluation(read_evaluations(model))
    best_dev = json.loads(summary.splitlines()[-1])["best_dev_bleu"]
    return model, evaluation[1], best_dev, against_pose_only(model, evaluation, pose_only)


def together(first: list, *others: list) -> list[str]:
    """Commands side by side, one thread each, as `mmprep ... & mmprep ... & wait` (on two cores, the time of the
    longest): the first one's output as it comes, the others' when they end. Returns what each printed."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    with contextlib.ExitStack() as stack:
        started = []
        for args in (first, *others):
            words = [str(shown(a)) if isinstance(a, Path) else a for a in args]
            print(f"\n$ mmprep {shlex.join(words)} &", flush=True)
            # The others' output waits in a file: a pipe nobody reads yet could fill and block them.
            log = None if args is first else stack.enter_context(tempfile.TemporaryFile("w+"))
            process = subprocess.Popen([MMPREP, *words], cwd=ROOT, stdout=log or subprocess.PIPE, text=True,
                                       stderr=log and subprocess.STDOUT, env=environment)  # fmt: skip
            started.append((words, process, log))
        outputs = []
        for words, process, log in started:
            if log is None:
                outputs.append("".join(print(line, end="", flush=True) or line for line in process.stdout))
            if process.wait():
                raise SystemExit(f"mmprep {shlex.join(words)} failed (exit status {process.returncode})")
            if log is not None:
                log.seek(0)
                outputs.append(log.read())
                name = words[words.index("--out") + 1] if "--out" in words else words[1]
                print(f"\n# what mmprep {words[0]} {name} printed:\n{outputs[-1]}", end="", flush=True)
    return outputs


def flags(options: dict) -> list[str]:
    return [word for key, value in options.items() for word in (f"--{key}", str(value))]


def last_screen(run_dir: Path, report: dict, best_dev: float, pose_only: Answer) -> str:
    """What the demo showed, in two sentences a newcomer can follow, and where the report is."""
    effect = report["text_effect"]
    right = effect["ambiguous_accuracy"]
    reads = right["with_text"] - right["without_text"] >= 0.2
    low, high = pose_only.figures["ci"]
    compared = "worse than" if high < 0 else "better than" if low > 0 else "as well as"
    return "\n".join([
        "",
        "=" * 100,
        f"The model learned to translate the synthetic signing (best dev BLEU-4 {best_dev:.0f} out of 100). Some "
        "words are signed exactly alike and only a video's description says which one is meant: with the "
        f"description the model got them right {right['with_text']:.0%} of the time, without it "
        f"{right['without_text']:.0%} (a coin toss), "
        + ("so it reads the description when there is one; " if reads else "so this run did not learn to read it; ")
        + f"and without one it translates {compared} a model that never saw any (BLEU-4 "
        f"{pose_only.figures['without_text']:.0f} against {pose_only.figures['pose_only']:.0f}, on the "
        f"{effect['n']} test videos that have a description).",
        f"The report, with the figures behind this: {shown(run_dir / 'report' / 'report.html')}",
        "=" * 100,
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic store and of the training")
    parser.add_argument("--out", type=Path, default=ROOT / "demo", help="the demo's folder (recreated)")
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    real_sample(out)
    print(f"\ndemo store: {shown(out / 'demo.zarr')}")
    print(last_screen(*synthetic(out, args.seed)))


if __name__ == "__main__":
    main()
