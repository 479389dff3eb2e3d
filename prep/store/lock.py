"""The single-writer lock of a store.

The lock is a file beside the store, ``<store>.lock``, holding who has it: pid, host, when it started and the
command. A second writer is refused with that record. How the lock is taken depends on where the store lives:

- a local disk (also a shared filesystem mounted here): the writer keeps the file open with an exclusive
  ``flock``, which the kernel drops when the process ends, however it ends (``kill -9``, the OOM killer). A
  writer that gets the ``flock`` of a file that still holds a record knows its holder is gone: when the record
  names a process of this host that is not running any more (its pid is gone, or belongs to a process started
  at another time), the writer takes the lock over and says so. Two writers racing for a dead holder's lock
  cannot both win: only one gets the ``flock``. A record from another host is not taken over: a shared
  filesystem may not pass locks between hosts, so its holder could be alive.
- S3 (s3fs): the lock object is created with a conditional PUT (``If-None-Match: *``) that the server refuses
  when the object exists. AWS S3 honours it (since August 2024), and so does the moto server the tests run
  against. An S3-compatible server that ignores the header lets a second writer replace the lock without
  noticing: there, run one writer at a time yourself. There is no way to replace a dead holder's object
  atomically, so even a holder of this host that died needs ``mmprep unlock``;
- other fsspec backends: only as exclusive as their ``"xb"`` mode is, with the same rule as S3.

``mmprep unlock`` breaks a lock whose holder is known to be gone; one held from another host needs ``--force``.
"""

from __future__ import annotations

import fcntl
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

UNREADABLE = {"pid": "?", "host": "?", "started": "?", "command": "an unreadable lock record"}


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def holder_alive(holder: dict) -> bool | None:
    """True/False for a holder on this host (pid alive and the same process); None for another host."""
    if holder.get("host") != socket.gethostname():
        return None
    try:
        started = _process_start(int(holder.get("pid", -1)))
    except (TypeError, ValueError):
        return False
    if started is None:
        return False
    # A reused pid belongs to a process that started later than the holder did.
    return abs(started - float(holder.get("process_started", started))) < 1.0


def describe(holder: dict) -> str:
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')}, since {holder.get('started')} "
        f"(command: {holder.get('command', '?')})"
    )


def _parse(text: str) -> dict | None:
    """A lock record, None for an empty file, UNREADABLE for anything else."""
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return UNREADABLE
    return record if isinstance(record, dict) else UNREADABLE


def _elsewhere(location: Location, holder: dict) -> StoreLockedError:
    return StoreLockedError(
        f"{location} is locked by {describe(holder)}, a process of another host: whether it still runs "
        "cannot be checked from here (and a shared filesystem may not pass file locks between hosts). If it is not "
        f"running any more, `mmprep unlock --force --store {location}`."
    )


def _running(location: Location, holder: dict) -> StoreLockedError:
    return StoreLockedError(
        f"{location} is being written by {describe(holder)}, which is still running. Wait for it to finish."
    )


class WriterLock:
    def __init__(self, location: Location):
        self.location = location
        self.token = uuid.uuid4().hex
        self.held = False
        self._fd: int | None = None  # the flocked lock file, for a local store

    def read_holder(self) -> dict | None:
        """The lock's record, or None when nobody holds it."""
        fs, path = self.location.fs, self.location.lock_path
        for _ in range(20):  # a lock being written may be empty or partly written for a moment
            try:
                with fs.open(path, "rb") as f:
                    record = _parse(f.read().decode("utf-8", "replace"))
            except FileNotFoundError:
                return None
            if record not in (None, UNREADABLE):
                return record
            time.sleep(0.05)
        return {**UNREADABLE, "command": f"unreadable lock file {path}"}

    def _record(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "process_started": _process_start(os.getpid()),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)),
            "token": self.token,
        }

    def acquire(self) -> None:
        previous = self._take()
        self.held = True
        if previous is not None:
            what = describe(previous) if previous is not UNREADABLE else "a writer that left an unreadable record"
            print(f"{self.location}: took over the writer lock of {what}, which is no longer running", file=sys.stderr)

    def _take(self) -> dict | None:
        """Take the lock; returns the record of the dead holder it was taken over from, if any."""
        try:
            return self._take_local() if self.location.is_local else self._take_exclusive()
        except OSError as e:
            raise StoreError(f"cannot create the writer lock {self.location.url}.lock: {e}") from e

    def _take_local(self) -> dict | None:
        path = self.location.lock_path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._held_by_a_live_process() from None
            if _is_at(fd, path):
                break
            os.close(fd)  # its holder released (removed) it between our open and flock: take the new one
        try:
            previous = _parse(os.pread(fd, 1 << 16, 0).decode("utf-8", "replace"))
            if previous is not None and previous is not UNREADABLE:
                alive = holder_alive(previous)
                if alive is None:
                    raise _elsewhere(self.location, previous)
                if alive:  # running without the flock: a writer of an older mmprep, which only created the file
                    raise _running(self.location, previous)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(self._record()).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return previous

    def _held_by_a_live_process(self) -> StoreLockedError:
        """The flock is held: by the recorded holder, or by a writer that is writing its record right now."""
        holder = self.read_holder() or {}
        for _ in range(20):
            if holder_alive(holder) is not False:
                break
            time.sleep(0.05)
            holder = self.read_holder() or {}
        if holder_alive(holder) is False:
            return StoreLockedError(
                f"{self.location} is locked by a running process of this host; the lock file names "
                f"{describe(holder)}, which is not running: a process it started may still hold the lock."
            )
        return _running(self.location, holder)

    def _take_exclusive(self) -> None:
        fs, path = self.location.fs, self.location.lock_path
        try:
            with fs.open(path, "xb") as f:
                f.write(json.dumps(self._record()).encode())
            return None
        except FileExistsError:
            holder = self.read_holder() or {}
        alive = holder_alive(holder)
        if alive is None:
            raise _elsewhere(self.location, holder)
        if alive:
            raise _running(self.location, holder)
        raise StoreLockedError(
            f"{self.location} has a stale writer lock: {describe(holder)} is no longer running. Here the lock "
            "cannot be taken over by itself (the storage has no atomic replace, so two writers could both take "
            f"it): break it with `mmprep unlock --store {self.location}` and rerun; the store keeps everything "
            "that run committed."
        )

    def release(self) -> None:
        if not self.held:
            return
        if self._fd is not None:
            if _is_at(self._fd, self.location.lock_path):  # not broken and replaced meanwhile (unlock --force)
                os.unlink(self.location.lock_path)
            os.close(self._fd)  # drops the flock
            self._fd = None
        else:
            holder = self.read_holder()
            if holder and holder.get("token") == self.token:
                self.location.fs.rm(self.location.lock_path)
        self.held = False


def _is_at(fd: int, path: str) -> bool:
    """Whether the open file ``fd`` is the one at ``path`` now."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def break_lock(location: Location, force: bool = False) -> dict | None:
    """Remove a lock whose holder is gone; a live or unverifiable holder needs ``force``. Returns the broken
    record."""
    lock = WriterLock(location)
    holder = lock.read_holder()
    if holder is None:
        return None
    if location.is_local and not force:
        # Taken over and released: refuses exactly the holders a writer would not take the lock from.
        previous = lock._take()
        lock.held = True
        lock.release()
        return previous or holder
    alive = holder_alive(holder)
    if alive and not force:
        raise StoreError(f"{location} is locked by {describe(holder)}, which is still running; not breaking it.")
    if alive is None and not force:
        raise StoreError(
            f"{location} is locked by {describe(holder)} on another host, whose processes cannot be checked from "
            "here. If you are sure it is not running, add --force."
        )
    location.fs.rm(location.lock_path)
    return holder
