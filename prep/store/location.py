"""Where a store lives: a local folder (the default) or any fsspec URL such as ``s3://bucket/prefix``.

A remote store is opened with its URL and ``storage_options`` (``--storage-options JSON``), which go to both the
filesystem the lock uses and zarr's ``FsspecStore``. S3 (s3fs) reads its configuration the way AWS tools do:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) for an S3-compatible server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import fsspec
import zarr.storage

from ..errors import StoreError

DEFAULT_STORE = "mmprep.zarr"
STORE_ENV = "MMPREP_STORE"


def default_url() -> str:
    """``$MMPREP_STORE`` when set, else ``./mmprep.zarr``."""
    return os.environ.get(STORE_ENV) or DEFAULT_STORE


def is_relative(url: str) -> bool:
    """Whether ``url`` is a local path relative to the current folder."""
    return fsspec.core.split_protocol(url)[0] is None and not os.path.isabs(url)


def absolute(url: str) -> str:
    """A local path made absolute, so that it names the same store from any folder; a URL as it is."""
    return os.path.abspath(url) if is_relative(url) else url


@dataclass
class Location:
    """A store URL resolved to a filesystem (for the lock and existence checks) and a zarr store."""

    url: str
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self):
        protocol = fsspec.core.split_protocol(self.url)[0]
        options = dict(self.storage_options)
        if protocol not in (None, "file", "local"):
            # The lock and the existence checks must see the server's current state, never a cached listing.
            options.setdefault("use_listings_cache", False)
        try:
            self.fs, self.path = fsspec.core.url_to_fs(self.url, **options)
        except ImportError as e:
            extra = " (pip install 'mmprep[s3]')" if protocol in ("s3", "s3a") else ""
            raise StoreError(f"cannot open {self.url}: {e}{extra}") from None
        self.is_local = isinstance(self.fs, fsspec.implementations.local.LocalFileSystem)
        if protocol in ("s3", "s3a") and "/" not in self.path.strip("/"):
            raise StoreError(f"{self.url} is a bucket; put the store under a prefix (s3://bucket/name.zarr)")

    def exists(self) -> bool:
        """Whether a store is there; for a remote store also the first contact, so its failures (no credentials,
        no such endpoint, access denied) become a StoreError that says where to look."""
        if self.is_local:
            return self.fs.exists(f"{self.path}/zarr.json")
        try:
            return self.fs.exists(f"{self.path}/zarr.json")
        except Exception as e:  # each backend raises its own kinds
            raise StoreError(
                f"cannot reach {self.url}: {e}. Check the credentials and endpoint (for S3: the AWS_* variables, "
                "e.g. AWS_PROFILE, AWS_ENDPOINT_URL) or --storage-options."
            ) from e

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
