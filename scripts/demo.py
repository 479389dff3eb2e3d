"""`make demo`: mmprep's main job on the sample data, one command after another, as a user would run them.

Writes everything under demo/ (recreated on each run).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import prep
from prep.tables import read_rows
from prep.text.tiny_mt5 import build_tiny_mt5

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo"
STORE = OUT / "demo.zarr"
SYNTH_STORE = OUT / "synth.zarr"
TRAIN_RUN = OUT / "run"
MMPREP = str(Path(sys.executable).with_name("mmprep"))
MANIFEST = "examples/demo-manifest.csv"


def run(*args: str) -> None:
    print(f"\n$ mmprep {shlex.join(args)}", flush=True)
    subprocess.run([MMPREP, *args], check=True, cwd=ROOT)


def build_demo_encoder() -> str:
    """A tiny random mT5 under demo/, its vocabulary trained on the manifest's text: encode-text loads it like a
    downloaded checkpoint (`--model google/mt5-base` needs the hub or a copied folder)."""
    rows = read_rows(ROOT / MANIFEST, "manifest-row")
    sentences = [row[key] for row in rows for key in ("translation", "description") if row.get(key)]
    folder = build_tiny_mt5(sentences, OUT / "tiny-mt5", vocab_size=200, d_model=64)
    print(f"\n# built a tiny random mT5 in {folder.relative_to(ROOT)} (prep.text.tiny_mt5.build_tiny_mt5)", flush=True)
    return str(folder.relative_to(ROOT))


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    store = str(STORE.relative_to(ROOT))
    run("manifest", MANIFEST, "--store", store)
    # The manifest's id `signing` is the sample video's path under tests/fixtures without the suffix.
    run("extract", "tests/fixtures", "--store", store, "--manifest", MANIFEST)
    run("encode-text", "--store", store, "--model", build_demo_encoder())
    run("init-mask", "--store", store)
    run("info", "--store", store)
    run("validate", "--store", store)
    print(f"\ndemo store: {STORE}")
    synth_demo()


def synth_demo() -> None:
    """A small synthetic store (known ground truth) for the training path."""
    store = str(SYNTH_STORE.relative_to(ROOT))
    # A small vocabulary (12 signs, 2 pairs that only a description tells apart) so that a tiny model learns it
    # in seconds on a CPU.
    run(
        "synth",
        store,
        "--videos",
        "400",
        "--vocab",
        "12",
        "--ambiguous-pairs",
        "2",
        "--text-ratio",
        "0.2",
        "--seed",
        "0",
    )
    run("info", "--store", store)
    run("validate", "--store", store, "--quick")
    print(f"\nsynth store: {SYNTH_STORE}")
    train_demo(store)


def train_demo(store: str) -> None:
    """A short training on the synth store, its evaluation and its report. The synth text needs its own tiny
    encoder: the demo encoder's vocabulary comes from the manifest."""
    synth = prep.open_store(store)
    sentences = [str(t) for column in ("description", "translation") for t in synth.column(column) if t]
    encoder = build_tiny_mt5(sentences, OUT / "synth-encoder", vocab_size=300, d_model=64)
    run("encode-text", "--store", store, "--model", str(encoder.relative_to(ROOT)))
    run("init-mask", "--store", store)
    run_dir = str(TRAIN_RUN.relative_to(ROOT))
    # About a minute; 15 epochs are far from what the defaults reach in 100 (docs/missing-modality.md).
    run(
        "train",
        "--store",
        store,
        "--out",
        run_dir,
        "--backbone",
        "tiny",
        "--epochs",
        "15",
        "-q",
    )
    run("eval", run_dir, "-q")
    run("report", run_dir)
    print(f"\nreport: {TRAIN_RUN / 'report' / 'report.html'} (open it in a browser)")


if __name__ == "__main__":
    main()
