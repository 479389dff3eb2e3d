from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from prep.cli import main

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """Real sample data (see tests/data/NOTICE.md)."""
    return DATA


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
