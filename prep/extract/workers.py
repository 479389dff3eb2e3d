"""How extraction's worker processes are set up, and MediaPipe's native notices kept off the terminal.

This module imports nothing heavy: `mmprep extract` starts its workers' server with it before it loads anything
else (prep/forkserver.py). The cluster's setup from these settings is ``prep.extract.run.EXTRACTION``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .. import forkserver

# Native thread pools sized to one core per worker process, so N workers on N cores do not oversubscribe.
# (MediaPipe's own graph threads cannot be configured; the decoder is set to one thread in prep/extract/decode.py.)
THREAD_LIMITS = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OPENCV_FOR_THREADS_NUM",
    )
}  # fmt: skip
PRELOAD = ("distributed", "av", "prep.extract.run", "mediapipe.python.solutions.holistic")
# A task whose worker process dies is retried once, then fails with KilledWorker: the video is recorded as
# failed (prep/extract/run.py) and tried again by the next run.
RETRIES_AFTER_CRASH = 1


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """What native code writes to file descriptor 2 (MediaPipe's absl and TFLite notices, several lines for
    every video) goes to /dev/null meanwhile; Python's own ``sys.stderr`` keeps writing where it did."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    python_stderr, sys.stderr = sys.stderr, os.fdopen(os.dup(saved), "w", buffering=1)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def start_server() -> None:
    """Start the server extraction's local workers are forked from (no-op when it runs)."""
    forkserver.start(PRELOAD, THREAD_LIMITS)
