"""What every corpus recipe shares: the prepared corpus, its checks, and attaching it to a store."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import schemas
from ..errors import InputError
from ..extract.videos import VideoFile
from ..store import Store
from ..store.manifest import attach_manifest
from ..tables import read_rows

MAX_LISTED = 30


@dataclass
class Prepared:
    """A corpus as a recipe read it: manifest rows, the frame folders of its sentences, and what did not match.

    Every row is labelled; ``videos`` holds the folder of every row that has one (an empty folder included: its
    extraction fails and says so). Nothing listed in the other fields is in ``rows``."""

    rows: list[dict]
    videos: list[VideoFile]
    fps: float
    language: str
    no_frames: list[str] = field(default_factory=list)  # labelled ids whose frame folder does not exist
    unlabelled: list[str] = field(default_factory=list)  # frame folders (ids) that no annotation names
    no_label: list[str] = field(default_factory=list)  # ids of the split file that the labels lack
    unknown_descriptions: list[str] = field(default_factory=list)  # --descriptions ids that are not in the corpus

    def counts(self) -> dict[str, int]:
        """Rows per split, in the schema's split order."""
        found = Counter(row["split"] for row in self.rows)
        return {split: found[split] for split in schemas.enum("common", "$defs", "split")}

    def warnings(self) -> list[str]:
        """One line per kind of mismatch, naming the first ids."""
        kinds = [
            (self.no_frames, "labelled sentence(s) have no frame folder (in the manifest, not extracted)"),
            (self.unlabelled, "frame folder(s) have no label (left out)"),
            (self.no_label, "name(s) of the split file have no label (left out)"),
            (self.unknown_descriptions, "description id(s) are not sentences of the corpus (ignored)"),
        ]
        return [f"{len(ids)} {what}: {shown(ids)}" for ids, what in kinds if ids]


def shown(ids: list[str], limit: int = 10) -> str:
    return ", ".join(ids[:limit]) + (f" ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def problems_error(source: str, problems: list[str]) -> InputError:
    """One InputError listing every problem (up to MAX_LISTED), as the manifest readers do."""
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    return InputError(f"{len(problems)} problem(s) in {source}:\n  " + "\n  ".join(problems[:MAX_LISTED]) + more)


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InputError(f"{path}: no such file ({what}); is ROOT the corpus's top folder?")
    return path


def subfolders(folder: Path) -> list[str]:
    """The names of the folders directly in ``folder`` (none when it does not exist), hidden ones skipped."""
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def row_problems(where: str, row: dict) -> list[str]:
    """The row's breaches of schemas/manifest-row.schema.json, prefixed by where it came from."""
    return [f"{where}: {message}" for message in schemas.errors("manifest-row", row)]


class Recipe(ABC):
    """One corpus's file layout under its ROOT folder."""

    name: str  # the CORPUS argument of `mmprep prepare`
    fps: float  # the frame rate of its frame folders
    language: str  # ISO 639-1 code of its translations
    layout: str  # the files it reads, for --help

    @abstractmethod
    def read(self, root: Path, frames_outside_root: bool = False) -> Prepared:
        """Read the annotations and look up the frame folders. Raises InputError listing every problem with
        the annotation files (file, line or entry, field) before anything is written. Frames are read under ROOT
        only, unless ``frames_outside_root`` lets an annotation file point elsewhere (PHOENIX's video column)."""


def join_descriptions(prepared: Prepared, path: str | Path, delimiter: str | None = None) -> None:
    """Put the descriptions of ``path`` (id, description: as `mmprep encode-text` reads them) into the rows;
    ids that are not in the corpus are listed in ``unknown_descriptions``."""
    texts = {row["id"]: row["description"] for row in read_rows(path, "description-row", delimiter)}
    for row in prepared.rows:
        if row["id"] in texts:
            row["description"] = texts.pop(row["id"])
    prepared.unknown_descriptions = sorted(texts)


def attach(store: Store, prepared: Prepared) -> tuple[int, int]:
    """Attach the prepared manifest and record the corpus's language. Returns (added, updated)."""
    added_updated = attach_manifest(store, prepared.rows)
    store.set_language(prepared.language)
    return added_updated
