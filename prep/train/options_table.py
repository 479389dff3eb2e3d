"""The Markdown table of `mmprep train`'s options in the README, generated from the schema so it cannot drift.

python -m prep.train.options_table    # prints the table
"""

from __future__ import annotations

from .config import GROUP_ORDER, options

START, END = "<!-- train-options:start -->", "<!-- train-options:end -->"


def _default(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def markdown() -> str:
    rows = ["| option | default | spec | what |", "|---|---|---|---|"]
    props = options()
    for group in GROUP_ORDER:
        for name, spec in props.items():
            if spec.get("group") != group:
                continue
            flag = "--" + name.replace("_", "-")
            what = spec["description"].replace("|", "\\|")
            if "enum" in spec:
                what += " One of: " + ", ".join(f"`{v}`" for v in spec["enum"]) + "."
            rows.append(f"| `{flag}` | {_default(spec['default'])} | {spec.get('spec', '')} | {what} |")
    return "\n".join([START, *rows, END])


if __name__ == "__main__":
    print(markdown())
