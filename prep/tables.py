"""Reading the tabular files users hand in (manifests, descriptions): CSV, TSV, ``|``-separated text or JSONL.

Every row is checked against a schema in ``schemas/``; every problem is reported with file, line and field,
all of them at once, before anything is written anywhere. The delimiter of a ``.csv`` or ``.txt`` file is
sniffed from its header (``,``, tab, ``|`` or ``;``: whichever splits it into the most columns), as corpora
ship ``|``-separated files under those names; ``delimiter`` overrides it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from . import schemas
from .errors import InputError

FORMATS = {".csv": "delimited", ".txt": "delimited", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DELIMITERS = (",", "\t", "|", ";")  # the candidates a header is sniffed for, the first winning ties
MAX_REPORTED = 30


def read_rows(path: str | Path, schema: str, delimiter: str | None = None) -> list[dict]:
    """Rows of ``path`` as dicts, each valid under schema ``schema`` and with a unique ``id``.

    ``delimiter`` (one character) replaces the file type's own (tab for .tsv, sniffed for .csv and .txt).
    Raises InputError listing every problem (up to 30) as ``file:line: field: message``; a header with
    unknown or missing columns is one problem naming the columns found and those expected.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(FORMATS)}")
    if delimiter is not None and (len(delimiter) != 1 or fmt == "jsonl"):
        raise InputError(f"{path}: the delimiter must be one character of a delimited file, not {delimiter!r}")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e

    problems: list[str] = []
    lines = decode_lines(path, raw, problems)
    if fmt == "jsonl":
        parsed = _parse_jsonl(path, lines, problems)
    else:
        parsed = _parse_delimited(path, lines, delimiter or ("\t" if fmt == "tsv" else _sniff(lines)), problems)
        if parsed and _column_problem(path, schema, parsed[0][1], problems):
            parsed = []  # every row would repeat the header's problem

    rows, first_line = [], {}
    for line_no, row in parsed:
        for message in schemas.errors(schema, row):
            problems.append(f"{path}:{line_no}: {message}")
        row_id = row.get("id")
        if isinstance(row_id, str):
            if row_id in first_line:
                problems.append(f"{path}:{line_no}: id: duplicate id {row_id!r} (first on line {first_line[row_id]})")
            else:
                first_line[row_id] = line_no
        rows.append(row)
    if not parsed and not problems:
        problems.append(f"{path}: no rows")
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise InputError(f"{len(problems)} problem(s) in {path}:\n  " + "\n  ".join(shown) + tail)
    return rows


def decode_lines(path: Path, raw: bytes, problems: list[str]) -> list[str]:
    """Decode UTF-8 line by line so an undecodable byte is reported on its own line (in ``problems``; the line
    is then empty). A byte-order mark is dropped."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = []
    for line_no, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append(chunk.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            problems.append(
                f"{path}:{line_no}: not valid UTF-8 (byte {chunk[e.start]:#04x} at column {e.start + 1}); "
                "save the file as UTF-8"
            )
            lines.append("")
    return lines


def _parse_jsonl(path: Path, lines: list[str], problems: list[str]) -> list[tuple[int, dict]]:
    rows = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{path}:{line_no}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
            continue
        rows.append((line_no, row))
    return rows


def _sniff(lines: list[str]) -> str:
    """The candidate delimiter that splits the header (the first non-blank line) into the most columns."""
    header = next((line for line in lines if line.strip()), "")
    return max(DELIMITERS, key=lambda d: len(next(csv.reader([header], delimiter=d), [])))


def _column_problem(path: Path, schema: str, first_row: dict, problems: list[str]) -> bool:
    """Report a header whose columns the schema does not allow, or lacks one it requires (True if so)."""
    spec = schemas.load(schema)
    allowed, required = list(spec["properties"]), spec.get("required", [])
    found = list(first_row)
    unknown = [c for c in found if c not in allowed]
    missing = [c for c in required if c not in found]
    if not unknown and not missing:
        return False
    what = [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
    what += [f"missing column(s) {', '.join(missing)}"] if missing else []
    optional = [c for c in allowed if c not in required]
    problems.append(
        f"{path}: header: {'; '.join(what)}. Found: {', '.join(found)}; expected: {', '.join(required)}"
        + (f" (optional: {', '.join(optional)})" if optional else "")
        + ". Rename the columns, or see `mmprep prepare --help` for a corpus's own annotation files"
    )
    return True


def _parse_delimited(path: Path, lines: list[str], delimiter: str, problems: list[str]) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = None
    rows = []
    for fields in reader:
        line_no = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if header is None:
            header = [h.strip() for h in fields]
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes:
                problems.append(f"{path}:{line_no}: header: column(s) {', '.join(dupes)} appear more than once")
            continue
        if len(fields) != len(header):
            problems.append(
                f"{path}:{line_no}: expected {len(header)} fields ({', '.join(header)}), found {len(fields)}"
                + ("; quote values that contain the delimiter" if len(fields) > len(header) else "")
            )
            continue
        rows.append((line_no, dict(zip(header, fields, strict=True))))
    return rows
