"""Errors a user can act on. The CLI prints them without a traceback and exits 1."""

import errno


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


def disk_full_cause(error: BaseException | None) -> OSError | None:
    """The full disk or quota (ENOSPC, EDQUOT) behind ``error``: itself, or an error it was raised while handling
    (torch reports a failed write to a file object as a RuntimeError, "unexpected pos", raised while handling it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def is_disk_full(error: BaseException | None) -> bool:
    return disk_full_cause(error) is not None
