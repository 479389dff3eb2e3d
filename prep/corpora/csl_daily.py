"""CSL-Daily (USTC, Zhou et al. 2021): Chinese Sign Language sentences, shipped as folders of 512x512 JPEG frames.

The layout under ROOT, as the corpus ships it and its public loaders read it::

    sentence_label/split_1.txt        'name|split' with that header: one sentence a line, split train/dev/test
    sentence_label/csl2020ct_v2.pkl   a pickle of a dict: 'info' a list of one dict per sentence ('name' str,
                                      'signer' int, 'length' int, 'label_gloss', 'label_char', 'label_word',
                                      'label_postag' lists of str), and vocabularies ('gloss_map', 'char_map', ...)
    sentence/frames_512x512/<name>/   the sentence's frames, 000000.jpg ... (30 fps)

A row's translation is its characters joined (``label_char``: the sentence with its punctuation), its gloss the
glosses joined by spaces; the signer is the number as text. The pickle holds only builtin containers, so it is
read with no global allowed at all (``prep.safe_pickle``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

from .. import safe_pickle, schemas
from ..errors import InputError
from ..extract.videos import VideoFile
from ..tables import decode_lines
from .base import Prepared, Recipe, problems_error, require_file, row_problems, subfolders

HEADER = ["name", "split"]


def read_split_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """name -> split, and the problems found (file:line: ...)."""
    splits = schemas.enum("common", "$defs", "split")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read it: {e.strerror or e}") from e
    found, problems, first = {}, [], {}
    lines = decode_lines(path, raw, problems)
    for line_no, line in enumerate(lines, start=1):
        fields = [f.strip() for f in line.split("|")]
        if not line.strip() or (line_no == 1 and fields == HEADER):
            continue
        if len(fields) != 2:
            problems.append(f"{path}:{line_no}: expected 2 fields (name|split), found {len(fields)}: {line!r}")
            continue
        name, split = fields
        if split not in splits:
            problems.append(f"{path}:{line_no}: split {split!r} is not one of {', '.join(splits)}")
        elif name in first:
            problems.append(f"{path}:{line_no}: {name!r} is listed again (first on line {first[name]})")
        else:
            found[name], first[name] = split, line_no
    return found, problems


def read_labels(path: Path) -> tuple[dict[str, dict], list[str]]:
    """name -> its info entry, and the problems found (file: info[i]: ...)."""
    try:
        data = safe_pickle.loads(path.read_bytes())
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    except pickle.UnpicklingError as e:
        raise InputError(f"{path}: {e}; expected CSL-Daily's label pickle (download it again if it is cut)") from None
    if not isinstance(data, dict) or not isinstance(data.get("info"), list):
        kind = f"a dict with keys {', '.join(map(str, data))}" if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path}: expected a dict whose 'info' is a list of sentences, found {kind}")
    labels, problems = {}, []
    for i, entry in enumerate(data["info"]):
        where = f"{path}: info[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f"{where}: expected a dict with a 'name' string, found {type(entry).__name__}")
            continue
        where += f" ({entry['name']})"
        bad = [k for k in ("label_char", "label_gloss") if not _strings(entry.get(k))]
        if bad:
            problems.append(f"{where}: {' and '.join(bad)} must be a list of strings")
        elif entry["name"] in labels:
            problems.append(f"{where}: the name is labelled twice")
        else:
            labels[entry["name"]] = entry
    return labels, problems


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class CslDaily(Recipe):
    name = "csl-daily"
    fps = 30.0
    language = "zh"
    layout = "sentence_label/split_1.txt, sentence_label/csl2020ct_v2.pkl, sentence/frames_512x512/<name>/*.jpg"

    def read(self, root: Path, frames_outside_root: bool = False) -> Prepared:  # its frames are named, not pointed at
        split_file = require_file(root / "sentence_label" / "split_1.txt", "CSL-Daily's split file")
        label_file = require_file(root / "sentence_label" / "csl2020ct_v2.pkl", "CSL-Daily's labels")
        frames = root / "sentence" / "frames_512x512"
        splits, problems = read_split_file(split_file)
        labels, label_problems = read_labels(label_file)
        problems += label_problems

        rows, no_label = [], []
        for name, split in splits.items():
            entry = labels.get(name)
            if entry is None:
                no_label.append(name)
                continue
            row = {"id": name, "split": split, "translation": "".join(entry["label_char"]),
                   "gloss": " ".join(entry["label_gloss"]), "signer": str(entry.get("signer", ""))}  # fmt: skip
            problems += row_problems(f"{label_file}: {name}", row)
            rows.append(row)
        if problems:
            raise problems_error(f"the CSL-Daily annotations under {root}", problems)

        folders = set(subfolders(frames))
        if not folders:
            raise InputError(f"{frames}: no frame folders; expected sentence/frames_512x512/<name>/ under ROOT")
        return Prepared(
            rows=rows,
            videos=[VideoFile(r["id"], str((frames / r["id"]).absolute())) for r in rows if r["id"] in folders],
            fps=self.fps,
            language=self.language,
            no_frames=[r["id"] for r in rows if r["id"] not in folders],
            unlabelled=sorted(folders - {r["id"] for r in rows} - set(no_label)),
            no_label=no_label,
        )
