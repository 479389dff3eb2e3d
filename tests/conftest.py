from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hugging Face hub

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


# Sentences the tiny models' vocabulary is trained on: every character of the tests' descriptions is among them.
TINY_SENTENCES = [
    "一位女士在室内打手语。",
    "他穿着蓝色的衬衫，慢慢地打手语。",
    "一个男人在公园里向镜头挥手。",
    "我想学习手语。今天天气很好。",
    "A man signs slowly, facing the camera.",
    "The woman waves both hands above her head.",
    "Two signers talk in a bright room.",
]


@pytest.fixture(scope="session")
def tiny_mt5(tmp_path_factory) -> Path:
    """A tiny random mT5 (32-d, 2 layers) with a vocabulary trained on TINY_SENTENCES, saved like a checkpoint."""
    from prep.tiny_mt5 import build_tiny_mt5

    return build_tiny_mt5(TINY_SENTENCES, tmp_path_factory.mktemp("tiny-mt5"), vocab_size=300, d_model=32)


@pytest.fixture(scope="session")
def other_mt5(tmp_path_factory) -> Path:
    """A second tiny mT5, 48-d and another seed: re-encoding with another model."""
    from prep.tiny_mt5 import build_tiny_mt5

    return build_tiny_mt5(TINY_SENTENCES, tmp_path_factory.mktemp("other-mt5"), vocab_size=300, d_model=48, seed=1)
