"""Errors a user can act on. The CLI prints them without a traceback and exits 1."""


class MmprepError(Exception):
    """Base class: the message says what went wrong and what to do."""


class InputError(MmprepError):
    """A file the user handed in is malformed: the message names file, line and field."""


class StoreError(MmprepError):
    """The store is missing, of an unknown version, inconsistent or lacks what a command needs."""


class StoreLockedError(StoreError):
    """Another writer holds the store's lock."""
