from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hugging Face hub

import importlib.metadata
import importlib.util
import logging
import platform
import signal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import FIXTURES, TINY_RUN, TINY_SENTENCES, decode_rgb, new_bucket, use_local_s3

from prep.cli import main
from prep.extract.holistic import HolisticModel

# ------------------------------------------------------------------ the two environments
# `make test` runs the suite twice: in the full environment (MediaPipe, numpy 1.26) and in the core one (no
# MediaPipe, numpy 2). A test marked for what this environment lacks is deselected here, and the summary says
# how many and where they run: none is skipped unseen, and none is marked skip.
HAVE_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
CORE_PYTHON = os.environ.get("MMPREP_CORE_PYTHON")  # the core environment's python, for both_environments tests
ELSEWHERE = {
    "mediapipe": (not HAVE_MEDIAPIPE, "need MediaPipe: they run in the full environment (`make test`)"),
    "without_mediapipe": (HAVE_MEDIAPIPE, "need an environment without MediaPipe: they run in the core one"),
    "both_environments": (
        not (HAVE_MEDIAPIPE and CORE_PYTHON),
        "need the full environment with the core one beside it (MMPREP_CORE_PYTHON, set by `make test`)",
    ),
}


def environment() -> str:
    import numpy

    name = "full" if HAVE_MEDIAPIPE else "core"
    mediapipe = f", mediapipe {importlib.metadata.version('mediapipe')}" if HAVE_MEDIAPIPE else ", no MediaPipe"
    return f"{name} environment: {platform.python_implementation()} {platform.python_version()}, numpy {numpy.__version__}{mediapipe}"


def pytest_report_header(config) -> str:
    return environment()


ELSEWHERE_KEY = pytest.StashKey[dict]()  # why -> how many tests were left to the other environment


def pytest_collection_modifyitems(config, items):
    kept, elsewhere = [], {}
    for item in items:
        reasons = [why for marker, (absent, why) in ELSEWHERE.items() if absent and item.get_closest_marker(marker)]
        if reasons:
            elsewhere.setdefault(reasons[0], []).append(item)
        else:
            kept.append(item)
    if elsewhere:
        config.hook.pytest_deselected(items=[item for group in elsewhere.values() for item in group])
        items[:] = kept
    config.stash[ELSEWHERE_KEY] = {why: len(group) for why, group in elsewhere.items()}


def pytest_terminal_summary(terminalreporter, config):
    passed = len(terminalreporter.stats.get("passed", []))
    terminalreporter.write_sep("-", f"{environment()}: {passed} passed here")
    for why, n in config.stash.get(ELSEWHERE_KEY, {}).items():
        terminalreporter.write_line(f"{n} test(s) not run here: they {why}")


@pytest.fixture
def data_dir() -> Path:
    """Real sample data (see tests/fixtures/NOTICE.md)."""
    return FIXTURES


@pytest.fixture(scope="session")
def sample_video() -> Path:
    """The real signing video: 58 frames, 540x720, ~29.9 fps."""
    return FIXTURES / "signing.mp4"


@pytest.fixture(scope="session")
def sample_rgb(sample_video) -> list[np.ndarray]:
    return decode_rgb(sample_video)


@pytest.fixture(scope="session")
def sample_landmarks(sample_rgb):
    """MediaPipe Holistic run on every frame of the sample in this process: the reference extraction."""
    model = HolisticModel()
    try:
        return model.landmarks(sample_rgb)
    finally:
        model.close()


@pytest.fixture
def ctrl_c_reaches_commands():
    """Commands started during the test get SIGINT at its default, as a terminal's foreground job does.

    A shell without job control (a CI runner, `make test &`) starts its background jobs with SIGINT ignored;
    Python keeps an inherited SIG_IGN, so every command pytest starts would ignore Ctrl-C and run to the end. A
    handled signal is reset to its default by exec, so installing Python's own handler here is enough."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def store_url(tmp_path) -> str:
    return str(tmp_path / "test.zarr")


@pytest.fixture
def cli():
    """Run ``mmprep ARGS...`` in-process; returns click's Result (exit_code, output, stderr)."""
    runner = CliRunner()

    def run(*args, expect: int | None = 0):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return run


@pytest.fixture(scope="session")
def tiny_mt5(tmp_path_factory) -> Path:
    """A tiny random mT5 (32-d, 2 layers) with a vocabulary trained on TINY_SENTENCES, saved like a checkpoint."""
    from prep.text.tiny_mt5 import build_tiny_mt5

    return build_tiny_mt5(TINY_SENTENCES, tmp_path_factory.mktemp("tiny-mt5"), vocab_size=300, d_model=32)


@pytest.fixture(scope="session")
def other_mt5(tmp_path_factory) -> Path:
    """A second tiny mT5, 48-d and another seed: re-encoding with another model."""
    from prep.text.tiny_mt5 import build_tiny_mt5

    return build_tiny_mt5(TINY_SENTENCES, tmp_path_factory.mktemp("other-mt5"), vocab_size=300, d_model=48, seed=1)


@pytest.fixture(scope="session")
def s3_endpoint():
    """A local S3 server (moto) on 127.0.0.1 and a free port, in a thread of this process, for the whole session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch) -> str:
    """The local S3 server configured only by AWS_* variables, as a user would (child processes inherit them)."""
    use_local_s3(monkeypatch, s3_endpoint)
    return s3_endpoint


@pytest.fixture
def s3_url(s3_env) -> str:
    """``s3://<fresh bucket>/test.zarr`` on the local server."""
    return f"s3://{new_bucket()}/test.zarr"


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory, tiny_mt5) -> str:
    """96 synthetic videos (12 signs), descriptions encoded with the tiny mT5, mask_init computed."""
    url = str(tmp_path_factory.mktemp("synth") / "synth.zarr")
    runner = CliRunner()
    for args in (
        ["synth", url, "--videos", "96", "--vocab", "12", "--ambiguous-pairs", "2", "--text-ratio", "0.25"],
        ["encode-text", "--store", url, "--model", str(tiny_mt5)],
        ["init-mask", "--store", url],
    ):
        result = runner.invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return url


@pytest.fixture(scope="session")
def trained_run(synth_store, tmp_path_factory) -> Path:
    """A run directory of `mmprep train` on ``synth_store`` (mask+indicator placeholder, text dropout 0.3)."""
    from prep.train.config import resolve
    from prep.train.loop import train

    run = tmp_path_factory.mktemp("runs") / "tiny"
    train(resolve({}, {"store": synth_store, **TINY_RUN}), run, progress=False)
    return run
