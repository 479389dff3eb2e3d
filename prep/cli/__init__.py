"""The ``mmprep`` command line. Each module registers its commands on ``main``."""

from . import ablate, evaluate, extract, interop, prepare, store_commands, synth, text, train, translate  # noqa: F401  (registers commands)
from .base import main

__all__ = ["main"]
