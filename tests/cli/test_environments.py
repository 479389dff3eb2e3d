"""The core installation (no MediaPipe) and the `mediapipe` extra: what each environment can do and says."""

from __future__ import annotations

import subprocess
import sys

import pytest

IMPORT_ALL = """
import importlib, pathlib, sys
import prep
root = pathlib.Path(prep.__file__).parent
for path in sorted(root.rglob("*.py")):
    if path.name != "__main__.py":  # it runs the command line
        importlib.import_module(".".join(("prep", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"))
print(*sorted(name for name in ("mediapipe", "cv2") if name in sys.modules))
"""


def test_no_module_of_prep_imports_mediapipe():
    """Only running an extraction loads MediaPipe (and its OpenCV): every module imports without it, so the
    core installation has every other command. In the core environment an import would fail here."""
    loaded = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == []


@pytest.mark.without_mediapipe
def test_without_mediapipe_extraction_says_what_to_install(tmp_path, cli, sample_video, trained_run, store_url):
    """`mmprep extract`, `prepare --extract` and `translate` of a video: exit 1, one message naming the extra and
    the Pythons MediaPipe exists for, nothing written. A .pose file translates (tests/inference/)."""
    extract = cli("extract", sample_video, "--store", store_url, expect=1)
    assert "pip install 'mmprep[mediapipe]'" in extract.output and "CPython 3.9 to 3.12" in extract.output
    assert "Traceback" not in extract.output and not (tmp_path / "test.zarr").exists()
    (tmp_path / "corpus").mkdir()
    prepare = cli("prepare", "phoenix-2014t", tmp_path / "corpus", "--store", store_url, "--extract", expect=1)
    assert "`mmprep prepare --extract` needs MediaPipe" in prepare.output and "without --extract" in prepare.output
    translate = cli("translate", trained_run, sample_video, expect=1)
    assert "translating a video needs MediaPipe" in translate.output and "its .pose file" in translate.output
    help_text = cli("extract", "--help").output  # the help needs nothing
    assert "Usage: main extract" in help_text
