"""The dask cluster work runs on in parallel: a local one of single-threaded worker processes, or an existing one.

Each use says how its local workers are set up (``WorkerSetup``): `mmprep extract`'s
(``prep.extract.workers.EXTRACTION``) and `mmprep ablate`'s (``prep.analysis.ablate.training_workers``) differ in
what the workers import, their thread pools, retries after a crash and what they do with native logs.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dask
import dask.system
from distributed import Client, LocalCluster, WorkerPlugin
from distributed.utils import get_mp_context

from . import forkserver
from ._version import __version__
from .errors import MmprepError

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
CONNECT_TIMEOUT = "20s"
WORKER_WAIT_S = 60


@dataclass(frozen=True)
class WorkerSetup:
    """How one use sets up a local cluster's worker processes."""

    preload: tuple[str, ...]  # modules the server the workers are forked from imports once (prep/forkserver.py)
    # Set before the server starts (workers inherit it; a variable the user set wins). It also replaces dask's
    # own pre-spawn environment, which sets MALLOC_TRIM_THRESHOLD_.
    environ: dict[str, str]
    retries_after_crash: int  # a task whose worker process dies is tried again this often, then fails (KilledWorker)
    plugins: tuple[Callable[[], WorkerPlugin], ...] = field(default=())  # registered on every local worker


class ClusterError(MmprepError):
    """The dask cluster cannot be reached or its workers cannot run mmprep."""


def default_workers() -> int:
    """The number of cores this process may use (respecting CPU affinity and container quotas)."""
    return dask.system.CPU_COUNT


@contextmanager
def connect(setup: WorkerSetup, workers: int | None = None, scheduler: str | None = None) -> Iterator[Client]:
    """A client of a new local cluster of ``workers`` single-threaded processes (default: one per core) set up
    as ``setup`` says, or of the cluster whose scheduler is at ``scheduler`` (``tcp://host:port``; its workers
    are left as their owner set them up). The local cluster is shut down on exit, also after an error or Ctrl-C.
    """
    settings = {**QUIET_MONITORING, "distributed.scheduler.allowed-failures": setup.retries_after_crash}
    if scheduler:
        with dask.config.set(settings):
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as e:
                raise ClusterError(f"cannot reach the dask scheduler at {scheduler}: {e}") from e
            with client:
                _check_workers(client, scheduler)
                yield client
        return
    local = {"distributed.worker.multiprocessing-method": "forkserver",
             "distributed.nanny.pre-spawn-environ": setup.environ}  # fmt: skip
    with dask.config.set({**settings, **local}):
        get_mp_context()  # dask sets its own preload list at first use: ours comes after
        forkserver.start(setup.preload, setup.environ)  # unless `mmprep extract` started it already
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
                for plugin in setup.plugins:
                    client.register_plugin(plugin())
                yield client
        finally:
            forkserver.stop()


def _check_workers(client: Client, scheduler: str) -> None:
    """Fail early, before any work is recorded as failed, if the cluster's workers cannot run this mmprep."""
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
