"""Checkpoints: everything needed to continue a run exactly where it stopped, and the best model.

``RUN_DIR/checkpoints/last.pt`` is rewritten every ``checkpoint_every`` steps, at each epoch's end and on
Ctrl-C; ``best.pt``, the model without the optimiser's state, when the dev BLEU improves. Both are written to a
temporary file and renamed, so a crash while saving leaves the previous one intact. They hold only tensors and
plain values, and are loaded with ``weights_only=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import InputError
from .run_dir import checkpoint_path as path


def save(run_dir: Path, which: str, state: dict) -> Path:
    target = path(run_dir, which)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, target)
    return target


def load(run_dir: Path, which: str = "last") -> dict:
    source = path(run_dir, which)
    if not source.exists():
        raise InputError(f"no {which} checkpoint in {run_dir} ({source} is missing)")
    # mmap: tensors are read when used, so evaluating an mT5-base run reads its 2.3 GB of weights, not the 7 GB
    # of weights and optimiser state together
    return torch.load(source, map_location="cpu", weights_only=True, mmap=True)
