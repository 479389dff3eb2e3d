from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import decode_rgb

from prep.cli import main
from prep.holistic import HolisticModel

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """Real sample data (see tests/data/NOTICE.md)."""
    return DATA


@pytest.fixture(scope="session")
def sample_video() -> Path:
    """The real signing video: 58 frames, 540x720, ~29.9 fps."""
    return DATA / "signing.mp4"


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
