"""The store: every stage reads and writes through this package; nothing else touches zarr."""

from .location import DEFAULT_STORE, STORE_ENV, Location, default_url
from .lock import break_lock
from .store import SCHEMA_VERSION, Store, VideoResult, open_store, statuses, table_columns
from .validate import validate

__all__ = [
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "Location",
    "Store",
    "VideoResult",
    "break_lock",
    "default_url",
    "open_store",
    "statuses",
    "table_columns",
    "validate",
]
