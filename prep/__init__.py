"""mmprep: data preparation and missing-modality training for sign-language translation.

>>> import prep
>>> store = prep.open_store("mmprep.zarr")   # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmprep")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .store import Store, VideoResult, open_store

__all__ = ["Store", "VideoResult", "__version__", "open_store"]
