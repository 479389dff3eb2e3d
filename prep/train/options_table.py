"""The Markdown table of `mmprep train`'s options in docs/train.md, generated from the schema so it cannot drift.

python -m prep.train.options_table    # prints the table
"""

from __future__ import annotations

from .config import GROUP_ORDER, format_value, options

START, END = "<!-- train-options:start -->", "<!-- train-options:end -->"


def markdown() -> str:
    rows = ["| option | default | see | what |", "|---|---|---|---|"]
    props = options()
    for group in GROUP_ORDER:
        for name, spec in props.items():
            if spec.get("group") != group:
                continue
            flag = "--" + name.replace("_", "-")
            what = spec["description"].replace("|", "\\|")
            if "enum" in spec:
                what += " One of: " + ", ".join(f"`{v}`" for v in spec["enum"]) + "."
            rows.append(f"| `{flag}` | `{format_value(spec['default'])}` | {_link(spec.get('see'))} | {what} |")
    return "\n".join([START, *rows, END])


def _link(see: str | None) -> str:
    """``missing-modality.md#2-training-strategies`` -> ``[§2](missing-modality.md#2-training-strategies)``: the
    section's number where its anchor starts with one, else the page's name."""
    if see is None:
        return ""
    page, _, anchor = see.partition("#")
    number = anchor.partition("-")[0]
    return f"[{'§' + number if number.isdigit() else page}]({see})"


if __name__ == "__main__":
    print(markdown())
