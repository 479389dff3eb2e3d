"""Checkpoints: everything needed to continue a run exactly where it stopped, and the best model.

``RUN_DIR/checkpoints/last.pt`` is rewritten every ``checkpoint_every`` steps, at each epoch's end and on
Ctrl-C; ``best.pt``, the model without the optimiser's state, when the dev BLEU improves. Both are written to a
temporary file and renamed, so a crash or a full disk while saving leaves the previous one intact. They hold
only tensors and plain values, and are loaded with ``weights_only=True``: nothing in a checkpoint runs, whoever
wrote it. Every command that reads a run's checkpoint (eval, translate, export-model, train --resume) reads it
with ``load``, which reads its configurations (``config``, ``model_config``) through the migration table of the
format version it records (``prep.train.migrations``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import DiskFullError, InputError, is_disk_full, no_space
from . import migrations
from .config import resolve_saved
from .run_dir import checkpoint_path as path

REQUIRED = ("model", "progress", "config", "model_config")  # what every checkpoint of `mmprep train` holds


def save(run_dir: Path, which: str, state: dict) -> Path:
    """Write ``state`` as the run's ``which`` checkpoint. DiskFullError (the partial file removed, the previous
    checkpoint intact) when the disk is full."""
    target = path(run_dir, which)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".pt.tmp")
    try:
        # Through a Python file object, so that a full disk surfaces as the OSError it is (beneath torch's own
        # RuntimeError), rather than as a bare "unexpected pos" from torch's C++ writer.
        with open(tmp, "wb") as f:
            torch.save(state, f)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise disk_full(run_dir, target.parent, f"{which}.pt", tensor_bytes(state)) from e
        raise
    os.replace(tmp, target)
    return target


def load(run_dir: Path, which: str = "last") -> dict:
    """The run's ``which`` checkpoint, its ``config`` resolved as the run was trained and its ``model_config``
    complete, in today's format. InputError naming the file when it is missing, damaged (cut short by a failed
    copy, overwritten), no checkpoint of `mmprep train` or written by a newer mmprep, with what to do instead."""
    source = path(run_dir, which)
    if not source.exists():
        raise InputError(f"no {which} checkpoint in {run_dir} ({source} is missing)")
    try:
        # mmap: tensors are read when used, so evaluating an mT5-base run reads its 2.3 GB of weights, not the 7 GB
        # of weights and optimiser state together
        state = torch.load(source, map_location="cpu", weights_only=True, mmap=True)
    except OSError as e:
        raise InputError(f"{source}: cannot read it: {e.strerror or e}") from e
    except Exception as e:  # RuntimeError, EOFError, UnpicklingError, KeyError...: whatever the bytes break
        # Not chained: torch's message advises weights_only=False, which would run what the file holds.
        cut = isinstance(e, EOFError) or "PytorchStreamReader" in str(e)
        why = "cut short: not a whole zip archive" if cut else "not the zip archive of tensors a run writes"
        raise InputError(f"{source} is damaged ({why}). {_instead(run_dir, which)}") from None
    missing = [key for key in REQUIRED if key not in state] if isinstance(state, dict) else list(REQUIRED)
    if missing:
        what = f"{source} is not a checkpoint of `mmprep train` (it has no {', '.join(missing)})"
        raise InputError(f"{what}. {_instead(run_dir, which)}")
    version, state = migrations.split_version(state, str(source))
    return {
        **state,
        "config": resolve_saved(state["config"], version, f"{source}: config"),
        "model_config": migrations.model(state["model_config"], version, f"{source}: model_config"),
    }


def _instead(run_dir: Path, which: str) -> str:
    """What to do when ``which`` cannot be read."""
    options = [f"Restore {which}.pt from an intact copy of the run (or run the command on that copy)"]
    if which == "best" and path(run_dir, "last").exists():
        options.append("use the run's last checkpoint (last.pt: --checkpoint last)")
    if which == "last" and path(run_dir, "best").exists():
        options.append("evaluate, translate or export the best model (best.pt: --checkpoint best)")
    return ", ".join(options) + ", or train the run again."


def tensor_bytes(value) -> int:
    """About what ``torch.save`` writes of ``value``: the bytes of its tensors."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(map(tensor_bytes, value.values()))
    if isinstance(value, list | tuple):
        return sum(map(tensor_bytes, value))
    return 0


def disk_full(run_dir: Path, folder: Path, what: str, needed: int | None = None) -> DiskFullError:
    """The error for a write of ``what`` into ``folder`` (of the run in ``run_dir``) that found the disk full; with
    ``needed``, a checkpoint whose partial file was removed."""
    kept = [p.name for p in (path(run_dir, "last"), path(run_dir, "best")) if p.exists()]
    then = (
        f"continue with `mmprep train --resume {run_dir}`"
        if "last.pt" in kept
        else f"train again (into another --out, or after deleting {run_dir})"
    )
    return DiskFullError(
        no_space(folder, what, needed)
        + (". The partial file was removed" if needed else "")
        + (f"; {' and '.join(kept)} {'are' if len(kept) > 1 else 'is'} intact" if kept else "")
        + f". Free some space, then {then}."
    )
