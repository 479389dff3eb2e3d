"""The store: every stage reads and writes through this package; nothing else touches zarr."""

from .location import DEFAULT_STORE, STORE_ENV, Location, default_url
from .lock import break_lock
from .open import open_store
from .rows import MANIFEST_FIELDS, VideoResult, now, statuses, table_columns
from .store import SCHEMA_VERSION, Store
from .validate import validate

__all__ = [
    "DEFAULT_STORE",
    "MANIFEST_FIELDS",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "Location",
    "Store",
    "VideoResult",
    "break_lock",
    "default_url",
    "now",
    "open_store",
    "statuses",
    "table_columns",
    "validate",
]
