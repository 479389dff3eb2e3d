"""Shared by the model and training tests (tests/model/, tests/train/) and the tests that train on other stores
(tests/store/test_s3.py)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import torch
from transformers import MT5Config, MT5ForConditionalGeneration

from prep.data.dataset import PoseDataset
from prep.train.config import resolve

TINY = {"backbone": "tiny", "tiny_d_model": 32, "tiny_layers": 1, "tiny_heads": 2, "tiny_vocab_size": 200}
FAST = {
    **TINY,
    "batch_size": 8,
    "lr": 3e-3,
    "max_frames": 96,
    "max_target_length": 24,
    "log_every": 1,
    "eval_max_videos": 6,
}


def config_for(store: str, **options) -> dict:
    return resolve({}, {"store": store, **FAST, **options})


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def step_losses(run_dir: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in metrics(run_dir) if "loss" in m}


def interrupt_at_batch(
    monkeypatch, n: int, error: type[BaseException] | None = None, signum: int = signal.SIGINT
) -> None:
    """Ctrl-C (a real SIGINT) while batch ``n`` of the run is read (the first batch check reads batch 1, step
    ``k`` batch ``k + 1``), or another signal (SIGSTOP: the process stops itself there); or raise ``error``
    there (a crash)."""
    original = PoseDataset.__getitems__
    calls = {"n": 0}

    def read(self, indices):
        calls["n"] += 1
        if calls["n"] == n:
            if error is None:
                signal.raise_signal(signum)
            else:
                raise error("simulated crash")
        return original(self, indices)

    monkeypatch.setattr(PoseDataset, "__getitems__", read)


def tiny_backbone(d_model=16) -> MT5ForConditionalGeneration:
    torch.manual_seed(0)
    config = MT5Config(vocab_size=40, d_model=d_model, d_ff=32, d_kv=8, num_layers=1, num_decoder_layers=1,
                       num_heads=2, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)  # fmt: skip
    return MT5ForConditionalGeneration(config)
