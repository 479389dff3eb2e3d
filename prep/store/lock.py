"""The single-writer lock of a store.

A writer creates ``<store>.lock`` exclusively and writes who it is: pid, host, when it started and the command.
A second writer is refused with that record. A lock whose holder ran on this host and is no longer running is
reported as stale; ``mmprep unlock`` breaks it. Only a holder on another host cannot be checked: breaking that
one needs ``--force``.

How "exclusively" is enforced depends on where the store lives (fsspec's ``open(path, "xb")``):

- a local disk: ``O_EXCL``;
- S3 (s3fs): a conditional PUT (``If-None-Match: *``) that the server refuses when the object exists. AWS S3
  honours it (since August 2024), and so does the moto server the tests run against. An S3-compatible server
  that ignores the header lets a second writer replace the lock without noticing: there, run one writer at
  a time yourself;
- other fsspec backends: only as exclusive as their ``"xb"`` mode is.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from datetime import UTC, datetime

import psutil

from ..errors import StoreError, StoreLockedError
from .location import Location


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def holder_alive(holder: dict) -> bool | None:
    """True/False for a holder on this host (pid alive and the same process); None for another host."""
    if holder.get("host") != socket.gethostname():
        return None
    started = _process_start(int(holder.get("pid", -1)))
    if started is None:
        return False
    # A reused pid belongs to a process that started later than the holder did.
    return abs(started - float(holder.get("process_started", started))) < 1.0


def describe(holder: dict) -> str:
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')}, since {holder.get('started')} "
        f"(command: {holder.get('command', '?')})"
    )


class WriterLock:
    def __init__(self, location: Location):
        self.location = location
        self.token = uuid.uuid4().hex
        self.held = False

    def read_holder(self) -> dict | None:
        """The lock's record, or None when nobody holds it."""
        fs, path = self.location.fs, self.location.lock_path
        for _ in range(20):  # a lock being written may be empty for a moment
            try:
                with fs.open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                return None
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                time.sleep(0.05)
        return {"pid": "?", "host": "?", "started": "?", "command": f"unreadable lock file {path}"}

    def acquire(self) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "process_started": _process_start(os.getpid()),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)),
            "token": self.token,
        }
        fs, path = self.location.fs, self.location.lock_path
        if self.location.is_local:  # object stores have no folders (and makedirs would create a bucket)
            fs.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        try:
            with fs.open(path, "xb") as f:
                f.write(json.dumps(record).encode())
        except FileExistsError:
            holder = self.read_holder() or {}
            alive = holder_alive(holder)
            if alive is False:
                raise StoreLockedError(
                    f"{self.location} has a stale writer lock: {describe(holder)} is no longer running. "
                    f"If that run was interrupted, break the lock with `mmprep unlock --store {self.location}` "
                    "and rerun; the store keeps everything that run committed."
                ) from None
            raise StoreLockedError(
                f"{self.location} is being written by {describe(holder)}. Wait for it to finish"
                + (
                    "."
                    if alive
                    else f"; if it is not running any more, `mmprep unlock --force --store {self.location}`."
                )
            ) from None
        except OSError as e:
            raise StoreError(f"cannot create the writer lock {self.location.url}.lock: {e}") from e
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        holder = self.read_holder()
        if holder and holder.get("token") == self.token:
            self.location.fs.rm(self.location.lock_path)
        self.held = False


def break_lock(location: Location, force: bool = False) -> dict | None:
    """Remove a stale lock; a live or unverifiable holder needs ``force``. Returns the broken record."""
    lock = WriterLock(location)
    holder = lock.read_holder()
    if holder is None:
        return None
    alive = holder_alive(holder)
    if alive and not force:
        raise StoreError(f"{location} is locked by {describe(holder)}, which is still running; not breaking it.")
    if alive is None and not force:
        raise StoreError(
            f"{location} is locked by {describe(holder)} on another host, which cannot be checked from here. "
            "If you are sure it is not running, add --force."
        )
    location.fs.rm(location.lock_path)
    return holder
