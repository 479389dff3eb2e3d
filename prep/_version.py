"""The installed distribution's version: written into every store, run and report."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmprep")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
