"""The dask cluster extraction runs on: a local one of single-threaded worker processes, or an existing one.

Workers only read video files (by the paths the client found) and return results; they never touch the store.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import dask
import dask.system
from distributed import Client, LocalCluster, WorkerPlugin
from distributed.utils import get_mp_context

from .._version import __version__
from ..errors import MmprepError
from . import processes
from .processes import EXTRACTION_PRELOAD, WORKER_ENVIRON

# dask's monitoring feeds a dashboard mmprep does not start: a profiler that samples each worker's stack every
# 10 ms, event-loop ticks every 20 ms, memory and system monitors several times a second, in every worker and in
# the client (which runs a local cluster's scheduler and nannies). Slowed down or off, measured on 20 copies of
# the sample with 2 workers: worker CPU 56 -> 53 ms per frame, client CPU 2.7 -> 1.7 s, wall 36.7 -> 34.8 s.
QUIET_MONITORING = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}
# A task whose worker process dies is retried once, then fails with KilledWorker (prep/extract.py records it).
RETRIES_AFTER_CRASH = 1
SETTINGS = {
    "distributed.scheduler.allowed-failures": RETRIES_AFTER_CRASH,
    # Set before a local worker process starts. This also drops dask's default MALLOC_TRIM_THRESHOLD_: setting
    # it turns off glibc's adaptive mmap threshold, so every frame's buffers are mapped and unmapped again,
    # which costs MediaPipe about 20% more CPU per frame (measured: 62 -> 74 ms).
    "distributed.nanny.pre-spawn-environ": WORKER_ENVIRON,
    **QUIET_MONITORING,
}
CONNECT_TIMEOUT = "20s"
WORKER_WAIT_S = 60


class ClusterError(MmprepError):
    """The dask cluster cannot be reached or its workers cannot run mmprep."""


def default_workers() -> int:
    """The number of cores this process may use (respecting CPU affinity and container quotas)."""
    return dask.system.CPU_COUNT


@contextmanager
def connect(
    workers: int | None = None, scheduler: str | None = None, preload: tuple[str, ...] = EXTRACTION_PRELOAD
) -> Iterator[Client]:
    """A client of a new local cluster (``workers`` single-threaded processes, default: one per core, forked from
    a server that has imported the modules in ``preload``, prep/extract/processes.py), or of the cluster whose scheduler is at
    ``scheduler`` (``tcp://host:port``). The local cluster is shut down on exit, also after an error or Ctrl-C.
    """
    local = {} if scheduler else {"distributed.worker.multiprocessing-method": "forkserver"}
    with dask.config.set({**SETTINGS, **local}):
        if scheduler:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as e:
                raise ClusterError(f"cannot reach the dask scheduler at {scheduler}: {e}") from e
            with client:
                _check_workers(client, scheduler)
                yield client
            return
        get_mp_context()  # dask sets its own preload list at first use: ours comes after
        processes.start(preload)  # unless `mmprep extract` started it already
        try:
            with (
                LocalCluster(
                    n_workers=workers or default_workers(),
                    threads_per_worker=1,
                    processes=True,
                    # No dashboard; the scheduler's small HTTP server (health, metrics) on a free loopback
                    # port: its default, 8787, is taken by the first of two runs, and the second warned.
                    dashboard_address=None,
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL,  # a dead worker is reported in the run's summary instead
                ) as cluster,
                Client(cluster) as client,
            ):
                client.register_plugin(SilenceNativeLogs())
                yield client
        finally:
            processes.stop()


class SilenceNativeLogs(WorkerPlugin):
    """Send what native code writes to stderr (MediaPipe's absl and TFLite notices, several lines for every
    video) to /dev/null in a local cluster's workers; Python's own stderr stays where it was. Registered only
    on the local cluster: an existing cluster's workers are left as their owner set them up."""

    name = "mmprep-silence-native-logs"

    def setup(self, worker) -> None:
        sys.stderr.flush()
        python_stderr = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(python_stderr, "w", buffering=1)


def _check_workers(client: Client, scheduler: str) -> None:
    """Fail early, before any video is recorded as failed, if the cluster's workers cannot run this mmprep."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError as e:
        raise ClusterError(f"the dask scheduler at {scheduler} has no workers (waited {WORKER_WAIT_S} s)") from e
    try:
        versions = client.run(importlib.metadata.version, "mmprep")
    except importlib.metadata.PackageNotFoundError as e:
        raise ClusterError(
            f"a worker of {scheduler} does not have mmprep installed; install mmprep {__version__} (and its "
            "dependencies) in the environment every worker runs in"
        ) from e
    wrong = {worker: v for worker, v in versions.items() if v != __version__}
    if wrong:
        raise ClusterError(
            f"workers of {scheduler} run another mmprep than this one ({__version__}): "
            + ", ".join(f"{w}: {v}" for w, v in sorted(wrong.items()))
        )
