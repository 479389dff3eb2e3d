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
MMPREP = str(Path(sys.executable).with_name("mmprep"))


def run(*args: str) -> None:
    print(f"\n$ mmprep {shlex.join(args)}", flush=True)
    subprocess.run([MMPREP, *args], check=True, cwd=ROOT)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    store = str(STORE.relative_to(ROOT))
    run("manifest", "examples/demo-manifest.csv", "--store", store)
    # The manifest's id `signing` is the sample video's path under tests/data without the suffix.
    run("extract", "tests/data", "--store", store, "--manifest", "examples/demo-manifest.csv")
    run("info", "--store", store)
    run("validate", "--store", store)
    print(f"\ndemo store: {STORE}")


if __name__ == "__main__":
    main()
