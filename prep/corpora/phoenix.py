"""RWTH-PHOENIX-Weather 2014 T (Camgöz et al. 2018): German Sign Language weather forecasts, shipped as folders of
210x260 PNG frames.

The layout under ROOT (the ``PHOENIX-2014-T`` folder of the release), as its public loaders read it::

    annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv
        '|'-separated, header name|video|start|end|speaker|orth|translation; one sentence a line
    features/fullFrame-210x260px/<split>/<name>/images0001.png ...   (25 fps)

The ``video`` column gives the frames as a pattern relative to the split's folder (``<name>/1/*.png``, kept from
PHOENIX-2014, whose frames sit in ``<name>/1/``); the 2014-T release has them directly in ``<name>/``, so the
pattern's folder is used when it exists and ``<name>/`` otherwise. A row's translation is the ``translation``
column, its gloss ``orth`` and its signer ``speaker``.
"""

from __future__ import annotations

import csv
import posixpath
from pathlib import Path

from .. import schemas
from ..errors import InputError
from ..extract.videos import VideoFile
from .base import Prepared, Recipe, problems_error, require_file, row_problems, subfolders

COLUMNS = ("name", "video", "start", "end", "speaker", "orth", "translation")
USED = ("name", "video", "speaker", "orth", "translation")


def read_corpus_file(path: Path, split: str) -> tuple[list[tuple[dict, str]], list[str]]:
    """(manifest row, video pattern) per line, and the problems found (file:line: ...)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read it as UTF-8 text: {e}") from e
    reader = csv.reader(text.splitlines(), delimiter="|", quoting=csv.QUOTE_NONE)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in USED if c not in header]
    if missing:
        raise InputError(
            f"{path}: header: missing column(s) {', '.join(missing)}. Found: {', '.join(header) or 'nothing'}; "
            f"expected: {'|'.join(COLUMNS)}"
        )
    rows, problems = [], []
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
        rows.append((row, values["video"]))
    return rows, problems


def frame_folder(split_dir: Path, name: str, pattern: str) -> Path:
    """Where a sentence's frames are: the folder of the ``video`` pattern if it exists, else ``<name>/``."""
    given = posixpath.dirname(pattern)
    if given and ".." not in given.split("/") and (split_dir / given).is_dir():
        return split_dir / given
    return split_dir / name


class Phoenix2014T(Recipe):
    name = "phoenix-2014t"
    fps = 25.0
    language = "de"
    layout = "annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv, features/fullFrame-210x260px/<split>/<name>/*.png"

    def read(self, root: Path) -> Prepared:
        manual, features = root / "annotations" / "manual", root / "features" / "fullFrame-210x260px"
        rows, videos, no_frames, unlabelled, problems, first = [], [], [], [], [], {}
        for split in schemas.enum("common", "$defs", "split"):
            path = require_file(manual / f"PHOENIX-2014-T.{split}.corpus.csv", f"PHOENIX-2014T's {split} annotations")
            read, split_problems = read_corpus_file(path, split)
            problems += split_problems
            split_dir = features / split
            folders = set(subfolders(split_dir))
            for row, pattern in read:
                if row["id"] in first:
                    problems.append(f"{path}: {row['id']!r} is annotated again (first in {first[row['id']]})")
                    continue
                first[row["id"]] = path.name
                rows.append(row)
                folder = frame_folder(split_dir, row["id"], pattern)
                if folder.is_dir():
                    videos.append(VideoFile(row["id"], str(folder.absolute())))
                else:
                    no_frames.append(row["id"])
            unlabelled += [f"{split}/{name}" for name in sorted(folders - {r["id"] for r, _ in read})]
        if problems:
            raise problems_error(f"the PHOENIX-2014T annotations under {root}", problems)
        if not features.is_dir():
            raise InputError(f"{features}: no such folder; expected features/fullFrame-210x260px/<split>/<name>/")
        return Prepared(rows, videos, self.fps, self.language, no_frames=no_frames, unlabelled=unlabelled)
