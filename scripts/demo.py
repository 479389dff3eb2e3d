"""`make demo`: mmprep's main job on the sample data, one command after another, as a user would run them.

Writes everything under demo/ (recreated on each run).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo"
STORE = OUT / "demo.zarr"
SYNTH_STORE = OUT / "synth.zarr"
MMPREP = str(Path(sys.executable).with_name("mmprep"))


def run(*args: str) -> None:
    print(f"\n$ mmprep {shlex.join(args)}", flush=True)
    subprocess.run([MMPREP, *args], check=True, cwd=ROOT)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    store = str(STORE.relative_to(ROOT))
    run("manifest", "examples/demo-manifest.csv", "--store", store)
    run("info", "--store", store)
    run("validate", "--store", store)
    print(f"\ndemo store: {STORE}")
    synth_demo()


def synth_demo() -> None:
    """A small synthetic store (known ground truth) for the training path."""
    store = str(SYNTH_STORE.relative_to(ROOT))
    run("synth", store, "--videos", "200", "--text-ratio", "0.2", "--seed", "0")
    run("info", "--store", store)
    run("validate", "--store", store, "--quick")
    print(f"\nsynth store: {SYNTH_STORE}")


if __name__ == "__main__":
    main()
