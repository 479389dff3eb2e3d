"""RWTH-PHOENIX-Weather 2014 T (Camgöz et al. 2018): German Sign Language weather forecasts, shipped as folders of
210x260 PNG frames.

The layout under ROOT (the ``PHOENIX-2014-T`` folder of the release), as its public loaders read it::

    annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv
        '|'-separated, header name|video|start|end|speaker|orth|translation; one sentence a line
    features/fullFrame-210x260px/<split>/<name>/images0001.png ...   (25 fps)

The ``video`` column gives the frames as a pattern relative to the split's folder (``<name>/1/*.png``, kept from
PHOENIX-2014, whose frames sit in ``<name>/1/``); the 2014-T release has them directly in ``<name>/``, so the
pattern's folder is used when it exists and ``<name>/`` otherwise. A pattern whose folder is outside ROOT (an
absolute path, or one that climbs out with ``..``) is a problem of its row unless ``frames_outside_root``
(`--frames-outside-root`): the corpus file decides which files are read. A row's translation is the ``translation``
column, its gloss ``orth`` and its signer ``speaker``.
"""

from __future__ import annotations

import csv
import os
import posixpath
from pathlib import Path

from .. import schemas
from ..errors import InputError
from ..extract.videos import VideoFile
from ..tables import decode_lines
from .base import Prepared, Recipe, problems_error, require_file, row_problems, subfolders

COLUMNS = ("name", "video", "start", "end", "speaker", "orth", "translation")
USED = ("name", "video", "speaker", "orth", "translation")


def read_corpus_file(path: Path, split: str) -> tuple[list[tuple[dict, str, int]], list[str]]:
    """(manifest row, video pattern, line number) per line, and the problems found (file:line: ...)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read it: {e.strerror or e}") from e
    problems: list[str] = []
    reader = csv.reader(decode_lines(path, raw, problems), delimiter="|", quoting=csv.QUOTE_NONE)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in USED if c not in header]
    if missing:
        raise InputError(
            f"{path}: header: missing column(s) {', '.join(missing)}. Found: {', '.join(header) or 'nothing'}; "
            f"expected: {'|'.join(COLUMNS)}"
        )
    rows = []
    for fields in reader:
        line_no = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            problems.append(
                f"{path}:{line_no}: expected {len(header)} fields ({'|'.join(header)}), found {len(fields)}"
            )
            continue
        values = dict(zip(header, (f.strip() for f in fields), strict=True))
        row = {"id": values["name"], "split": split, "translation": values["translation"],
               "signer": values["speaker"], "gloss": values["orth"]}  # fmt: skip
        problems += row_problems(f"{path}:{line_no}", row)
        rows.append((row, values["video"], line_no))
    return rows, problems


def frame_folder(split_dir: Path, name: str, pattern: str) -> Path:
    """Where a sentence's frames are: the folder of the ``video`` pattern if it exists, else ``<name>/``."""
    given = posixpath.dirname(pattern)
    if given and (split_dir / given).is_dir():
        return split_dir / given
    return split_dir / name


def is_inside(folder: Path, root: Path) -> bool:
    """Whether ``folder`` is under ``root`` as written (``..`` resolved; links under ROOT are the user's own)."""
    return Path(os.path.normpath(folder.absolute())).is_relative_to(os.path.normpath(root.absolute()))


class Phoenix2014T(Recipe):
    name = "phoenix-2014t"
    fps = 25.0
    language = "de"
    layout = "annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv, features/fullFrame-210x260px/<split>/<name>/*.png"

    def read(self, root: Path, frames_outside_root: bool = False) -> Prepared:
        manual, features = root / "annotations" / "manual", root / "features" / "fullFrame-210x260px"
        rows, videos, no_frames, unlabelled, problems, first = [], [], [], [], [], {}
        for split in schemas.enum("common", "$defs", "split"):
            path = require_file(manual / f"PHOENIX-2014-T.{split}.corpus.csv", f"PHOENIX-2014T's {split} annotations")
            read, split_problems = read_corpus_file(path, split)
            problems += split_problems
            split_dir = features / split
            folders = set(subfolders(split_dir))
            for row, pattern, line_no in read:
                if row["id"] in first:
                    problems.append(f"{path}:{line_no}: {row['id']!r} is annotated again (first at {first[row['id']]})")
                    continue
                first[row["id"]] = f"{path.name}:{line_no}"
                folder = frame_folder(split_dir, row["id"], pattern)
                if not frames_outside_root and not is_inside(folder, root):  # the corpus file decides what is read
                    problems.append(
                        f"{path}:{line_no}: video {pattern!r} is outside ROOT ({root}); pass --frames-outside-root "
                        "to read frames there"
                    )
                    continue
                rows.append(row)
                if folder.is_dir():
                    videos.append(VideoFile(row["id"], os.path.normpath(folder.absolute())))
                else:
                    no_frames.append(row["id"])
            unlabelled += [f"{split}/{name}" for name in sorted(folders - {r["id"] for r, *_ in read})]
        if problems:
            raise problems_error(f"the PHOENIX-2014T annotations under {root}", problems)
        if not features.is_dir():
            raise InputError(f"{features}: no such folder; expected features/fullFrame-210x260px/<split>/<name>/")
        return Prepared(rows, videos, self.fps, self.language, no_frames=no_frames, unlabelled=unlabelled)
