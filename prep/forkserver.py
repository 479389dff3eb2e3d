"""The server a local cluster's worker processes are forked from: started early, stopped with the cluster.

Local workers are forked from one server process that has imported what they need once (for extraction,
mmprep and MediaPipe), instead of each spawned worker importing it again: about 2 s of CPU per worker, and
again after every crash (measured on 6 copies of the sample, 2 workers: 77-82 -> 65-67 ms CPU per frame).
Those imports take the server about 1.5 s, so `mmprep extract` starts it first thing: they run on another
core while the command imports the rest, opens the store and fingerprints the videos, instead of before the
first worker can start. This module imports nothing heavy for that reason. Workers inherit the server's
environment, so it is set before the server starts.
"""

from __future__ import annotations

import multiprocessing
import os
from contextlib import suppress
from multiprocessing import forkserver, resource_tracker

import psutil

# A dask Nanny fixes PYTHONHASHSEED (to 6640) so that every worker hashes alike: the server must have it too.
HASH_SEED = {"PYTHONHASHSEED": "6640"}


def start(preload: tuple[str, ...], environ: dict[str, str]) -> None:
    """Start the server with ``preload`` imported and ``environ`` set, unless it runs; returns at once (the
    imports go on). A variable the user set wins, as with a Nanny."""
    for name, value in {**environ, **HASH_SEED}.items():
        os.environ.setdefault(name, value)
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def stop() -> None:
    """Stop the server and the resource tracker it started, and reap them: left running, they would outlive the
    command (they notice its end only once it has exited, and linger as orphans until reaped). Workers that were
    not closed are killed first, and so is the server (it may still be importing; nothing of it is worth
    keeping).

    multiprocessing has no public way to stop either. ``forkserver._forkserver`` (the module's ForkServer),
    its ``_forkserver_pid`` and ``_stop()`` (which CPython's own tests use) and
    ``resource_tracker._resource_tracker._stop()`` are there alike in CPython 3.11.7 (this machine's) and in
    CPython's main-branch sources as of December 2026 (Lib/multiprocessing/forkserver.py, resource_tracker.py;
    the tracker's ``_stop`` has gained an optional argument), so in 3.12 and 3.13 between them. Should a later
    Python drop them, the two processes end with the command, as they would without this function."""
    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if pid is not None:
        with suppress(psutil.Error):
            process = psutil.Process(pid)
            leftovers = process.children(recursive=True)
            for child in leftovers:
                child.kill()
            psutil.wait_procs(leftovers, timeout=10)
            process.kill()
    for private in (server, getattr(resource_tracker, "_resource_tracker", None)):
        with suppress(AttributeError):
            private._stop()
