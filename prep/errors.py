"""Errors a user can act on. The CLI prints them without a traceback and exits 1."""

import errno
import shutil


class MmprepError(Exception):
    """Base class: the message says what went wrong and what to do."""


class InputError(MmprepError):
    """A file the user handed in is malformed: the message names file, line and field."""


class StoreError(MmprepError):
    """The store is missing, of an unknown version, inconsistent or lacks what a command needs."""


class StoreLockedError(StoreError):
    """Another writer holds the store's lock."""


class DiskFullError(MmprepError):
    """A write failed for want of space: the message names the path, what it needed and what is free."""


FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left on the device, disk quota exceeded


def disk_full_cause(error: BaseException | None) -> OSError | None:
    """The full disk or quota (ENOSPC, EDQUOT) behind ``error``: itself, or an error it was raised while handling
    (torch reports a failed write to a file object as a RuntimeError, "unexpected pos", raised while handling it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno in FULL:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` comes from a full disk: an OSError behind it (``disk_full_cause``), or a Rust I/O error
    (safetensors, tokenizers: "... (os error 28)") in its message."""
    return disk_full_cause(error) is not None or any(f"(os error {code})" in str(error) for code in FULL)


def no_space(folder, what: str, needed: int | None = None) -> str:
    """'FOLDER: no space left on its disk to write WHAT (it needs about N MiB, M MiB free)'."""
    free = f"{size_text(shutil.disk_usage(folder).free)} free"
    return f"{folder}: no space left on its disk to write {what} (" + (
        f"it needs about {size_text(needed)}, {free})" if needed else f"{free})"
    )


def size_text(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"
