"""The server a local cluster's worker processes are forked from: started early, stopped with the cluster.

Local workers are forked from one server process that has imported mmprep and MediaPipe once, instead of each
spawned worker importing them again: about 2 s of CPU per worker, and again after every crash (measured on 6
copies of the sample, 2 workers: 77-82 -> 65-67 ms CPU per frame). Those imports take the server about 1.5 s,
so `mmprep extract` starts it first thing: they run on another core while the command imports dask, opens the
store and fingerprints the videos, instead of before the first worker can start. This module imports nothing
heavy for that reason. Workers inherit the server's environment, so it is set before the server starts.
"""

from __future__ import annotations

import multiprocessing
import os
from contextlib import suppress
from multiprocessing import forkserver, resource_tracker

import psutil

# Native thread pools sized to one core per worker process, so N workers on N cores do not oversubscribe.
# (MediaPipe's own graph threads cannot be configured; the decoder is set to one thread in prep/decode.py.)
THREAD_LIMITS = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OPENCV_FOR_THREADS_NUM",
    )
}  # fmt: skip
# A dask Nanny fixes PYTHONHASHSEED (to 6640) so that every worker hashes alike: the server must have it too.
WORKER_ENVIRON = {**THREAD_LIMITS, "PYTHONHASHSEED": "6640"}
# What extraction preloads; other users of a local cluster (ablate) pass their own.
EXTRACTION_PRELOAD = ("distributed", "prep.extract.run", "mediapipe.python.solutions.holistic")


def start(preload: tuple[str, ...] = EXTRACTION_PRELOAD) -> None:
    """Start the server with ``preload`` imported, unless it runs; returns at once (the imports go on)."""
    for name, value in WORKER_ENVIRON.items():
        os.environ.setdefault(name, value)  # a variable the user set wins, as with a Nanny
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def stop() -> None:
    """Stop the server and the resource tracker it started, and reap them: left running, they would outlive the
    command (they notice its end only once it has exited, and linger as orphans until reaped). Workers that were
    not closed are killed first, and so is the server (it may still be importing; nothing of it is worth
    keeping); ``_stop`` is multiprocessing's own way to stop them and forget them."""
    server = forkserver._forkserver
    if server._forkserver_pid is not None:
        with suppress(psutil.Error):
            process = psutil.Process(server._forkserver_pid)
            leftovers = process.children(recursive=True)
            for child in leftovers:
                child.kill()
            psutil.wait_procs(leftovers, timeout=10)
            process.kill()
    server._stop()
    resource_tracker._resource_tracker._stop()
