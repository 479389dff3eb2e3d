"""What the formats share: the batched, resumable commit of imported videos, reports, and the choice of ids."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import schemas
from ..errors import InputError, StoreError
from ..layout import FACE_POINTS, REFINED_FACE_POINTS, Layout, holistic
from ..store import Store, VideoResult

FACE_MESHES = {holistic(False).name, holistic(True).name}  # the two MediaPipe Holistic layouts, fitted to each other
BATCH_VIDEOS = 64  # videos per commit
BATCH_FRAMES = 16384  # ... or fewer, so a batch of long videos stays small in memory (~140 MB at 543 points)


@dataclass
class Loaded:
    """What an import source read for one video: the result to commit (None: a row without poses)."""

    result: VideoResult | None
    layout: Layout | None = None  # the poses' layout, for ok results
    dropped: tuple[str, ...] = ()  # components of the source that the store has no place for


@dataclass
class Incoming:
    """One video offered by an import source: ``row`` holds the table fields to upsert (at least ``id``);
    ``load`` reads the video and raises InputError for bad content."""

    row: dict
    fingerprint: str
    source: str
    load: Callable[[], Loaded]

    @property
    def id(self) -> str:
        return self.row["id"]


class Source(ABC):
    """An import source: iterates over Incoming videos; ``rejected`` lists (what, why) for entries that cannot
    become a row at all (e.g. a file name that is not a valid id). A context manager (it may hold a file open)."""

    rejected: list[tuple[str, str]]

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __iter__(self) -> Iterator[Incoming]: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:  # nothing to close unless a source holds a file open
        return None


@dataclass
class ImportReport:
    imported: int = 0  # committed with status ok
    no_person: int = 0
    rows_only: int = 0  # rows without poses (pending in the source)
    failed_before: int = 0  # rows copied with status failed (their extraction failed, not this import)
    unchanged: int = 0  # skipped: the store already holds this content
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id or file, error): what could not be imported
    dropped: set[str] = field(default_factory=set)
    fitted: dict[str, int] = field(default_factory=dict)  # how poses were fitted to the store's face mesh -> videos

    def notes(self) -> list[str]:
        """One line per way poses were fitted to the store's layout, with the number of videos."""
        return [f"{n} video(s): {how}" for how, n in self.fitted.items()]

    def summary(self) -> str:
        parts = [f"{self.imported} imported"]
        parts += [f"{self.no_person} without a person"] if self.no_person else []
        parts += [f"{self.rows_only} rows without poses"] if self.rows_only else []
        parts += [f"{self.failed_before} failed in the source"] if self.failed_before else []
        return ", ".join([*parts, f"{self.unchanged} unchanged", f"{len(self.failed)} failed"])


@dataclass
class ExportReport:
    written: int = 0  # videos written (or rows, for a table format)
    frames: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # status -> videos not written for having no poses
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {status}" for status, n in self.skipped.items())
        return f"{self.written} videos, {self.frames} frames" + (f"; skipped (no poses): {skipped}" if skipped else "")


def find_files(path: Path, suffix: str) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """(id, file) of the file ``path``, or of every ``*<suffix>`` file under the folder ``path``, a file's id
    being its path under the folder without the suffix; and (file, reason) of those whose name is no valid id.
    InputError when there is none."""
    files = [path] if path.is_file() else sorted(path.rglob(f"*{suffix}"))
    if not files:
        raise InputError(f"{path}: no {suffix} files found")
    root = path.parent if path.is_file() else path
    found, rejected = [], []
    for file in files:
        video_id = file.relative_to(root).with_suffix("").as_posix()
        problems = schemas.definition_errors("id", video_id)
        if problems:
            rejected.append((str(file), f"its name cannot be a video id: {problems[0]}"))
        else:
            found.append((video_id, file))
    return found, rejected


def is_current(store: Store, video_id: str, fingerprint: str) -> bool:
    """The store already holds this content for the video (committed ok or no_person, same fingerprint)."""
    if not fingerprint or video_id not in store:
        return False
    video = store.video(video_id)
    return video["status"] in ("ok", "no_person") and video["fingerprint"] == fingerprint


def commit_incoming(store: Store, source: Source) -> ImportReport:
    """Import ``source`` into ``store`` in batches: each batch's rows, then its results, are committed, so an
    interrupted import keeps every finished batch and a rerun skips what is already there. A bad video becomes a
    ``failed`` row with its error and does not stop the others."""
    report = ImportReport(failed=list(source.rejected))
    batch: list[tuple[Incoming, VideoResult | None]] = []
    frames = 0
    for item in tqdm(source, total=len(source), unit="video", desc="import", disable=None):
        if is_current(store, item.id, item.fingerprint):
            report.unchanged += 1
            batch.append((item, None))  # its row's fields are still applied
        else:
            batch.append((item, _load(store, item, report)))
        result = batch[-1][1]
        frames += result.n_frames if result is not None and result.status == "ok" else 0
        if len(batch) >= BATCH_VIDEOS or frames >= BATCH_FRAMES:
            _commit(store, batch)
            batch, frames = [], 0
    _commit(store, batch)
    return report


def _load(store: Store, item: Incoming, report: ImportReport) -> VideoResult | None:
    try:
        loaded = item.load()
        result = loaded.result
        if result is not None and result.status == "ok":
            result = _use_layout(store, result, loaded.layout, item.source, report)
    except (InputError, StoreError) as e:
        report.failed.append((item.id, str(e)))
        return VideoResult(item.id, "failed", error=str(e), source=item.source, fingerprint=item.fingerprint)
    report.dropped.update(loaded.dropped)
    if result is None:
        report.rows_only += 1
    elif result.status == "ok":
        report.imported += 1
    elif result.status == "no_person":
        report.no_person += 1
    else:
        report.failed_before += 1
    return result


def _use_layout(store: Store, result: VideoResult, layout: Layout, source: str, report: ImportReport) -> VideoResult:
    """The result in the store's layout: the store takes the first layout it is given; MediaPipe Holistic poses
    of the other face mesh are fitted to it (see ``fit_face_mesh``); any other layout is an InputError."""
    current = store.layout
    if current is None:
        store.set_layout(layout)
    elif current != layout:
        if {current.name, layout.name} != FACE_MESHES:
            raise InputError(
                f"{source} has {_points(layout)} but {store.url} holds {_points(current)}; import it into another store"
            )
        how = (
            f"the refined face mesh's 10 iris points were dropped ({store.url} holds {FACE_POINTS} face points)"
            if current.n_points < layout.n_points
            else f"the iris points were stored as missing, confidence 0 ({store.url} holds {REFINED_FACE_POINTS} "
            f"face points, the files {FACE_POINTS})"
        )
        report.fitted[how] = report.fitted.get(how, 0) + 1
        return fit_face_mesh(result, layout, current)
    return result


def fit_face_mesh(result: VideoResult, layout: Layout, target: Layout) -> VideoResult:
    """``result`` (in ``layout``) in the ``target`` layout, point by name: the refined mesh's first 468 face points
    are the plain mesh's, so going to 468 drops the 10 iris points and going to 478 adds them as missing."""
    where = {name: i for i, name in enumerate(layout.point_names)}
    index = np.array([where.get(name, -1) for name in target.point_names])
    have = index >= 0
    xyz = np.zeros((result.n_frames, target.n_points, 3), dtype=np.float32)
    conf = np.zeros((result.n_frames, target.n_points), dtype=np.float32)
    xyz[:, have], conf[:, have] = result.xyz[:, index[have]], result.conf[:, index[have]]
    return dataclasses.replace(result, xyz=xyz, conf=conf)


def _points(layout: Layout) -> str:
    return f"{layout.n_points}-point poses ({layout.name})"


def _commit(store: Store, batch: list[tuple[Incoming, VideoResult | None]]) -> None:
    if batch:
        store.upsert_rows([item.row for item, _ in batch])
        store.commit_videos([result for _, result in batch if result is not None])


def select_ids(store: Store, ids: Iterable[str] | None) -> list[str]:
    """The requested ids in store order (all rows when none are given); unknown ids are an InputError."""
    if not ids:
        return store.ids
    wanted = set(ids)
    unknown = sorted(i for i in wanted if i not in store)
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise InputError(f"no video {shown} in {store.url}; `mmprep info --store {store.url}` lists what it holds")
    return [i for i in store.ids if i in wanted]
