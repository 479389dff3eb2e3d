"""mmprep: data preparation and missing-modality training for sign-language translation.

>>> import prep
>>> store = prep.open_store("mmprep.zarr")   # doctest: +SKIP
>>> ds = prep.PoseDataset(store, split="train", points="upper", cache=True)   # doctest: +SKIP
>>> prep.Translator.from_run("runs/stage2").translate("clip.mp4")["translation"]   # doctest: +SKIP
"""

import importlib

from ._version import __version__

# Imported on first use: the store needs zarr, the training data path torch, and a command that needs neither
# should not wait for them.
_LAZY = {
    "Store": "store",
    "VideoResult": "store",
    "open_store": "store",
    "PoseDataset": "data.dataset",
    "collate": "data.dataset",
    "StratifiedBatchSampler": "data.sampler",
    "Translator": "inference.translator",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'prep' has no attribute {name!r}")


__all__ = [
    "PoseDataset",
    "Store",
    "StratifiedBatchSampler",
    "Translator",
    "VideoResult",
    "__version__",
    "collate",
    "open_store",
]
