"""Unpickling the files users hand in without running their code.

A pickle can import any callable and call it while it loads, so ``pickle.load`` on a downloaded file runs
whatever its author put there. ``loads`` refuses every global the caller did not name: plain containers
(dict, list, tuple, str, int, float, bool, None, bytes) need none, and numpy arrays need only ``NUMPY_ARRAYS``.
"""

from __future__ import annotations

import io
import pickle

# What numpy (1.x writes numpy.core, 2.x numpy._core) pickles an ndarray or a numpy scalar with: constructors that
# build an array or scalar from its bytes and dtype, and call nothing else.
NUMPY_ARRAYS = frozenset(
    (module, name)
    for core in ("numpy.core.multiarray", "numpy._core.multiarray")
    for module, name in ((core, "_reconstruct"), (core, "scalar"), ("numpy", "ndarray"), ("numpy", "dtype"))
)


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle asks for a global that the caller did not allow."""


class _Restricted(pickle.Unpickler):
    def __init__(self, file, allowed: frozenset[tuple[str, str]]):
        super().__init__(file)
        self.allowed = allowed

    def find_class(self, module: str, name: str):
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        raise RefusedGlobal(
            f"it asks to import {module}.{name}, which mmprep does not load from a data file (a pickle can run "
            "code that way)"
        )


def loads(data: bytes, allowed: frozenset[tuple[str, str]] = frozenset()) -> object:
    """The object pickled in ``data``, importing only the ``allowed`` (module, name) globals.

    Raises pickle.UnpicklingError, with a message saying why, for a pickle that wants anything else or that is
    truncated or corrupt."""
    try:
        return _Restricted(io.BytesIO(data), allowed).load()
    except RefusedGlobal:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            ImportError, OverflowError) as e:  # fmt: skip
        truncated = isinstance(e, EOFError) or "truncated" in str(e)
        reason = "it ends early (truncated?)" if truncated else f"{type(e).__name__}: {e}"
        raise pickle.UnpicklingError(f"not a readable pickle: {reason}") from None
