"""Opening a store: for reading, or for writing under the writer lock (creating it on first use)."""

from __future__ import annotations

import zarr

from .._version import __version__
from ..errors import StoreError
from .location import Location, default_url
from .lock import WriterLock
from .rows import ROW_CHUNK, now, table_columns
from .store import SCHEMA_VERSION, Store


def open_store(
    url: str | None = None, mode: str = "r", storage_options: dict | None = None, create: bool = True
) -> Store:
    """Open the store at ``url`` (default ``$MMPREP_STORE`` or ``./mmprep.zarr``).

    ``mode="r"`` reads an existing store; ``mode="a"`` takes the writer lock and creates the store if needed
    (with ``create=False``, a missing store is an error, as for reading). Use the store as a context manager
    (or call ``close()``) so a writer's lock is released.

    >>> store = open_store("mmprep.zarr")          # doctest: +SKIP
    >>> xyz, conf = store.pose(store.ids[0])      # doctest: +SKIP
    """
    if mode not in ("r", "a"):
        raise ValueError(f"mode must be 'r' or 'a', not {mode!r}")
    location = Location(url or default_url(), storage_options or {})
    exists = location.exists()  # also the first contact with a remote store: fails early and clearly
    if (mode == "r" or not create) and not exists:
        raise StoreError(
            f"no mmprep store at {location}. Create one with `mmprep manifest FILE --store {location}` "
            f"or `mmprep extract VIDEOS --store {location}`."
        )
    if mode == "r":
        root = zarr.open_group(location.zarr_store(read_only=True), mode="r", zarr_format=3)
        return Store(location, root, lock=None)

    lock = WriterLock(location)
    lock.acquire()
    try:
        if location.exists():  # asked again: no other writer can create it now
            root = zarr.open_group(location.zarr_store(read_only=False), mode="r+", zarr_format=3)
        else:
            if location.fs.exists(location.path) and location.fs.ls(location.path):
                raise StoreError(f"{location} exists and is not an mmprep store; choose another --store path")
            root = _create(location)
        return Store(location, root, lock=lock)
    except BaseException:
        lock.release()
        raise


def _create(location: Location) -> zarr.Group:
    root = zarr.open_group(location.zarr_store(read_only=False), mode="w", zarr_format=3)
    videos = root.create_group("videos")
    for name, (dtype, default) in table_columns().items():
        videos.create_array(name, shape=(0,), chunks=(ROW_CHUNK,), dtype=dtype, fill_value=default)
    videos.attrs["n_rows"] = 0
    stamp = now()
    # The root's attributes are written last: a store counts as created once they exist.
    root.attrs["mmprep"] = {
        "schema_version": SCHEMA_VERSION,
        "toolkit_version": __version__,
        "created": stamp,
        "updated": stamp,
        "layout": None,
    }
    return root
