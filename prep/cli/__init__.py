"""The ``mmprep`` command line. Each module registers its commands on ``main``."""

from . import store_commands, synth  # noqa: F401  (registers commands)
from .base import main

__all__ = ["main"]
