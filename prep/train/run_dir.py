"""A run directory: what `mmprep train` writes, and the one place that names its files.

    RUN_DIR/config.toml        the resolved configuration, seed included, and its format version (``--resume``
                               and every other reader read it back through ``prep.train.migrations``)
    RUN_DIR/metrics.jsonl      one JSON object per logged step, dev evaluation, skipped step and epoch end
    RUN_DIR/first_batch.json   the first-batch check (docs/missing-modality.md, section 6)
    RUN_DIR/checkpoints/       last.pt and best.pt (prep/train/checkpoint.py)
    RUN_DIR/backbone/          the mT5 backbone and its tokenizer, as ``save_pretrained`` writes them
    RUN_DIR/eval/              `mmprep eval`'s reports and predictions
    RUN_DIR/tensorboard/       the same scalars as TensorBoard event files, with --log-to tensorboard

Every other command (eval, report, ablate) finds a run's files through this module.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..errors import InputError, StoreError
from ..model.fusion import OLD_NAMES, with_current_names
from ..store.location import Location, absolute, default_url, is_relative
from . import migrations
from .config import read_toml, resolve_saved, to_toml

CONFIG = "config.toml"
METRICS = "metrics.jsonl"
FIRST_BATCH = "first_batch.json"
CHECKPOINTS = "checkpoints"
BACKBONE = "backbone"
EVAL = "eval"
TENSORBOARD = "tensorboard"

# What may differ when a run is resumed: where it runs and where it logs, not what it computes.
RESUMABLE_OVERRIDES = ("device", "num_workers", "store", "storage_options", "log_to", "gradient_checkpointing")


def run_store(run_dir: str | Path, recorded: str | None, storage_options: dict | None = None) -> str:
    """The store a run was trained on, as its configuration records it (without one: ``default_url()``). A run
    records an absolute location (``absolute``); a relative one, from a run written before it did, is looked for
    from the current folder, then from the run directory. StoreError when it is not there."""
    url = recorded or default_url()
    candidates = [os.path.abspath(url), os.path.join(os.path.abspath(run_dir), url)] if is_relative(url) else [url]
    for candidate in candidates:
        if Location(candidate, storage_options or {}).exists():
            return candidate
    raise StoreError(
        f"the store of the run {run_dir} was not found at {' or '.join(candidates)}; pass --store with where it is now"
    )


def is_run_store(run_dir: str | Path, url: str) -> bool:
    """Whether ``url`` is where ``run_store`` finds the run's own store."""
    config = read_config(run_dir)
    try:
        return absolute(url).rstrip("/") == run_store(run_dir, config["store"], config["storage_options"]).rstrip("/")
    except StoreError:  # the run's store is gone: whatever it is evaluated on now is another
        return False


def checkpoint_path(run_dir: str | Path, which: str) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"{which}.pt"


def require_run(run_dir: str | Path) -> Path:
    """``run_dir`` as a Path, or InputError when it holds no run of `mmprep train`."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        raise InputError(f"{run_dir} is not a run directory of `mmprep train` (no {CONFIG})")
    return run_dir


def read_config(run_dir: str | Path, overrides: dict | None = None) -> dict:
    """The run's resolved configuration as it was trained (``config.resolve_saved``), checked against the schema."""
    path = require_run(run_dir) / CONFIG
    version, values = migrations.split_version(read_toml(path), str(path))
    return resolve_saved(values, version, str(path), overrides)


def write_config(run_dir: Path, config: dict) -> None:
    """The run's config.toml: ``config`` in today's format version."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG).write_text(to_toml(config, migrations.CONFIG_VERSION), encoding="utf-8")


def append_metrics(run_dir: Path, record: dict) -> None:
    with open(run_dir / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def metrics_size(run_dir: Path) -> int:
    """How many bytes metrics.jsonl holds: a checkpoint records it, so that a resumed run starts the file there."""
    path = run_dir / METRICS
    return path.stat().st_size if path.exists() else 0


def truncate_metrics(run_dir: Path, size: int) -> None:
    """Cut metrics.jsonl back to its first ``size`` bytes: what was logged when the checkpoint being resumed was
    saved. What came after (steps the resumed run takes again, or a record cut by a crash) would be there twice."""
    path = run_dir / METRICS
    if path.exists() and path.stat().st_size > size:
        with open(path, "r+b") as f:
            f.truncate(size)


def read_metrics(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(training step records, dev evaluations) of a run in step order, one per step: a step logged again after a
    resume from an older checkpoint keeps its latest record. A run logged before the fusion's text weight had
    its own name has it under today's (``fusion.with_current_names``)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        raise InputError(f"{run_dir} has no {METRICS}: is it a run directory of `mmprep train`?")
    steps: dict[int, dict] = {}
    dev: dict[int, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{number}: not a JSON object ({e}); a run writes one object per line") from e
        if "loss" in record:
            steps[record["step"]] = record
        elif "dev_bleu" in record:
            dev[record["step"]] = record
    if any(OLD_NAMES.keys() & record.keys() for record in steps.values()):
        fusion = read_config(run_dir)["fusion"]
        steps = {step: with_current_names(record, fusion) for step, record in steps.items()}
    return [steps[s] for s in sorted(steps)], [dev[s] for s in sorted(dev)]


def new_run(run_dir: Path) -> Path:
    """``run_dir`` for a new run: InputError when it already holds one."""
    if (run_dir / CONFIG).exists():
        raise InputError(f"{run_dir} already holds a run; continue it with --resume {run_dir}, or choose another --out")
    return run_dir


def resumed_config(run_dir: Path, overrides: dict) -> dict:
    """The saved configuration of the run to continue, with the only options that may change when resuming."""
    changed = sorted(set(overrides) - set(RESUMABLE_OVERRIDES))
    if changed:
        raise InputError(
            f"--resume keeps the run's configuration; these options cannot change: {', '.join(changed)}. "
            "Start a new run (--out) to change them."
        )
    return read_config(run_dir, overrides)


def start_or_resume(run_dir: Path, config: dict) -> tuple[dict, bool]:
    """(configuration, resume) to train ``run_dir`` to its end without being told whether it ran before: a run
    with a last checkpoint continues with its saved configuration; one stopped before its first checkpoint
    has nothing worth keeping and starts again with ``config``."""
    if checkpoint_path(run_dir, "last").exists():
        return resumed_config(run_dir, {}), True
    if run_dir.exists():
        shutil.rmtree(run_dir)
    return config, False
