"""One table from one or more `mmprep ablate` folders, each setting against a baseline setting, paired by seed.

    python scripts/compare_ablations.py placeholders dropout --baseline text_dropout=1.0 \
        [--modes conservative-a0.5 ensemble]

Every setting of every folder is a row (named by its grid values; the other options are the folder's own, as
its ablation.json records). For each row: the with-text videos' BLEU-4 with the description (A) and with the
placeholder (B), A over the store's with-text ceiling (synth stores), the ambiguous words' accuracy with and
without the text, the paired differences A - B and B - baseline's B (the same seeds, so the same store and the
same initialisation: "does the model lose anything without text against one never shown text?"), the KL of
A against B and how many seeds meet all four consistency targets on the with-text videos. Each figure is the
mean over seeds with its 95 % t-interval (as `mmprep ablate`'s summary). Prints Markdown.

--modes TAG ... adds rows for other inference modes: each cell's evaluation ``run/eval/<split>-<TAG>.json``
where it exists (made by `mmprep eval RUN --split <split> --mode ...`), as the setting "(TAG)".
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from prep.analysis.ablate import Ablation, cell_run, result_row, spread
from prep.evaluate import read
from prep.train.run_dir import EVAL


def load(folder: Path, modes: tuple[str, ...] = ()) -> list[dict]:
    """The folder's rows, each with ``setting``: its grid values, ``key=value,...``, then the rows of the
    evaluations in ``modes`` that exist, as ``key=value,... (mode)``; values as in results.csv (text)."""
    ablation = Ablation(**json.loads((folder / "ablation.json").read_text(encoding="utf-8")))
    with open(folder / "results.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for mode in modes:
        for cell in ablation.cells():
            path = cell_run(folder, cell) / EVAL / f"{ablation.split}-{mode}.json"
            if path.exists():
                row = result_row(cell, read(path)[0], cell_run(folder, cell))
                rows.append({k: "" if v is None else str(v) for k, v in row.items()} | {"mode": mode})
    for row in rows:
        label = ",".join(f"{k}={row[k]}" for k in ablation.grid)
        row["setting"] = f"{label} ({row['mode']})" if row.get("mode") else label
    return rows


def number(row: dict, key: str) -> float | None:
    return float(row[key]) if row.get(key) not in (None, "") else None


def paired(rows: list[dict], others: dict[str, dict], key: str) -> list[float]:
    """Per seed: row[key] - the other setting's row[key], for the seeds both have a value for."""
    return [
        number(r, key) - number(others[r["seed"]], key)
        for r in rows
        if r["seed"] in others and number(r, key) is not None and number(others[r["seed"]], key) is not None
    ]


def table(rows: list[dict], baseline: str) -> str:
    base = {r["seed"]: r for r in rows if r["setting"] == baseline}
    if not base:
        raise SystemExit(f"no row has the baseline setting {baseline!r}")
    header = ["setting", "seeds", "with-text BLEU-4 A", "B", "A / ceiling", "ambiguous acc. A", "ambiguous acc. B",
              "A - B", f"B - {baseline}", "KL (text)", "consistent (text)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        group = [r for r in rows if r["setting"] == setting]
        ratio = [
            number(r, "with_text_bleu4") / number(r, "with_text_ceiling")
            for r in group
            if number(r, "with_text_ceiling")
        ]
        cells = [
            setting,
            str(len(group)),
            spread([number(r, "with_text_bleu4") for r in group], ".1f"),
            spread([number(r, "with_text_bleu4_without_text") for r in group], ".1f"),
            spread(ratio, ".2f"),
            spread([number(r, "ambiguous_accuracy_with_text") for r in group], ".2f"),
            spread([number(r, "ambiguous_accuracy_without_text") for r in group], ".2f"),
            spread([number(r, "with_text_bleu4") - number(r, "with_text_bleu4_without_text") for r in group], ".1f"),
            "(baseline)" if setting == baseline else spread(paired(group, base, "with_text_bleu4_without_text"), ".1f"),
            spread([number(r, "with_text_kl") for r in group], ".3f"),
            f"{sum(r['with_text_consistent'] == 'True' for r in group)}/{len(group)}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="`mmprep ablate --out` folders")
    parser.add_argument("--baseline", required=True, metavar="KEY=VALUE", help="the setting B is compared with")
    parser.add_argument("--modes", nargs="+", default=(), metavar="TAG", help="inference modes' rows too")
    args = parser.parse_args()
    rows = [row for folder in args.folders for row in load(folder, tuple(args.modes))]
    print(table(rows, args.baseline))


if __name__ == "__main__":
    main()
