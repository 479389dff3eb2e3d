"""Manifests: which videos a dataset has, their split and reference translation."""

from __future__ import annotations

from pathlib import Path

from ..tables import read_rows
from .rows import MANIFEST_FIELDS
from .store import Store


def read_manifest(path: str | Path, delimiter: str | None = None) -> list[dict]:
    """The manifest's rows, validated against schemas/manifest-row.schema.json (InputError otherwise);
    ``delimiter`` as ``prep.tables.read_rows`` takes it."""
    return read_rows(path, "manifest-row", delimiter)


def attach_manifest(store: Store, rows: list[dict]) -> tuple[int, int]:
    """Add the manifest's videos to the store and update the split, translation, signer, gloss and description
    of known ones (a column the manifest lacks is left as it is). Returns (added, updated)."""
    keep = ("id", *MANIFEST_FIELDS)
    return store.upsert_rows([{k: v for k, v in row.items() if k in keep} for row in rows])
