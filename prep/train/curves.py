"""Where a run's logged records go: always RUN_DIR/metrics.jsonl (every other command reads it), and with
``--log-to tensorboard`` the same scalars as TensorBoard event files in RUN_DIR/tensorboard, so that a run
can be watched live with ``tensorboard --logdir RUN_DIR``.

A training record (it has ``loss``) becomes the scalars ``train/<field>``, a dev evaluation ``dev/<field>``
(``dev/dev_bleu``); nested numbers get a path (``train/grad_norm/total``). Events without a scalar meaning
(``non_finite``, ``epoch_end``) and unset values (None) stay in metrics.jsonl only.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .run_dir import TENSORBOARD, append_metrics, truncate_metrics

NOT_SCALARS = ("step", "epoch")


def scalars(record: dict) -> dict[str, float]:
    """The TensorBoard tags and values of one metrics.jsonl record (empty for events)."""
    if "event" in record:
        return {}
    group = "train" if "loss" in record else "dev" if "dev_bleu" in record else None
    if group is None:
        return {}
    out: dict[str, float] = {}

    def add(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                add(f"{prefix}/{key}", item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[prefix] = float(value)

    for key, value in record.items():
        if key not in NOT_SCALARS:
            add(f"{group}/{key}", value)
    return out


class MetricsLog:
    """Appends records to metrics.jsonl and, with ``log_to="tensorboard"``, writes their scalars at their step.

    ``resumed`` (a resumed run's checkpoint: the step it was saved at and the size metrics.jsonl had then) drops
    what was logged after that checkpoint, from the file and from TensorBoard's view: the run logs it again."""

    def __init__(self, run_dir: Path, log_to: str = "jsonl", resumed: tuple[int, int | None] | None = None):
        self.run_dir = run_dir
        self.writer = None
        step, size = resumed or (None, None)
        if size is not None:  # checkpoints from before metrics_bytes have none: read_metrics keeps a step's last
            truncate_metrics(run_dir, size)
        if log_to == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise InputError(
                    f"--log-to tensorboard needs the tensorboard package ({e}); install it with "
                    "`pip install 'mmprep[tensorboard]'`, or log to metrics.jsonl only (--log-to jsonl)"
                ) from e
            self.writer = SummaryWriter(str(run_dir / TENSORBOARD), purge_step=None if step is None else step + 1)

    def write(self, record: dict) -> None:
        append_metrics(self.run_dir, record)
        if self.writer is not None:
            for tag, value in scalars(record).items():
                self.writer.add_scalar(tag, value, record["step"])
            self.writer.flush()  # live: a watching TensorBoard sees each record when metrics.jsonl does

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
