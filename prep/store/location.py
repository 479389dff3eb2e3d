"""Where a store lives: a local folder (the default) or any fsspec URL such as ``s3://bucket/prefix``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import fsspec
import zarr.storage

DEFAULT_STORE = "mmprep.zarr"
STORE_ENV = "MMPREP_STORE"


def default_url() -> str:
    """``$MMPREP_STORE`` when set, else ``./mmprep.zarr``."""
    return os.environ.get(STORE_ENV) or DEFAULT_STORE


@dataclass
class Location:
    """A store URL resolved to a filesystem (for the lock and existence checks) and a zarr store."""

    url: str
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self):
        self.fs, self.path = fsspec.core.url_to_fs(self.url, **self.storage_options)
        self.is_local = isinstance(self.fs, fsspec.implementations.local.LocalFileSystem)

    def exists(self) -> bool:
        return self.fs.exists(f"{self.path}/zarr.json")

    def zarr_store(self, read_only: bool) -> zarr.abc.store.Store:
        if self.is_local:
            return zarr.storage.LocalStore(self.path, read_only=read_only)
        return zarr.storage.FsspecStore.from_url(
            self.url, storage_options=self.storage_options or None, read_only=read_only
        )

    @property
    def lock_path(self) -> str:
        """The writer lock sits beside the store, outside the zarr hierarchy."""
        return self.path.rstrip("/") + ".lock"

    def __str__(self) -> str:
        return self.url
