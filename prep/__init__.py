"""mmprep: data preparation and missing-modality training for sign-language translation.

>>> import prep
>>> store = prep.open_store("mmprep.zarr")   # doctest: +SKIP
>>> ds = prep.PoseDataset(store, split="train", points="upper", cache=True)   # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmprep")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

import importlib

from .store import Store, VideoResult, open_store

# The training data path needs torch: imported on first use, so that commands which never touch it start fast.
_LAZY = {"PoseDataset": "dataset", "collate": "dataset", "StratifiedBatchSampler": "sampler"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'prep' has no attribute {name!r}")


__all__ = ["PoseDataset", "Store", "StratifiedBatchSampler", "VideoResult", "__version__", "collate", "open_store"]
