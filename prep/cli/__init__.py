"""The ``mmprep`` command line: ``main`` loads each command's module when the command is used (base.COMMANDS)."""

from .base import main

__all__ = ["main"]
