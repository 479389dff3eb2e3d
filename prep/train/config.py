"""The training configuration: defined once, in schemas/train-config.schema.json.

The schema gives every option's type, default, range and help; this module turns it into command-line
flags, reads and checks ``--config FILE.toml``, merges (flag > file > default) and writes the resolved
configuration into the run directory.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from .. import schemas
from ..errors import InputError
from . import migrations

SCHEMA = "train-config"
GROUP_ORDER = ("data", "model", "strategy", "optimization", "run")


def options() -> dict[str, dict]:
    return schemas.load(SCHEMA)["properties"]


def defaults() -> dict:
    return {name: spec["default"] for name, spec in options().items()}


def check(config: dict, origin: str) -> dict:
    """``config`` if it is valid under the schema, else InputError naming ``origin`` and every bad key."""
    problems = schemas.errors(SCHEMA, config)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in {origin}:\n  " + "\n  ".join(problems))
    return config


def read_toml(path: str | Path) -> dict:
    """The values of a TOML file, unchecked. InputError naming the file when it cannot be read or parsed."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML: {e}") from e


def load_toml(path: str | Path) -> dict:
    """The options of a ``--config`` file, checked: as given, over today's defaults (``resolve``). A run's
    config.toml serves too; its format version is checked (not newer than this mmprep's) and left out."""
    _, values = migrations.split_version(read_toml(path), str(path))
    return check(values, str(path))


TINY_LR, PRETRAINED_LR = 1e-3, 3e-4


def resolve(file_values: dict, flags: dict) -> dict:
    """Defaults, overridden by the config file, overridden by flags given on the command line; an unset
    learning rate follows the backbone (a tiny one trains from scratch and takes a larger rate)."""
    config = check({**defaults(), **file_values, **flags}, "the training options")
    if config["lr"] is None:
        config["lr"] = TINY_LR if config["backbone"] == "tiny" else PRETRAINED_LR
    return config


def resolve_saved(values: dict, version: int, origin: str, overrides: dict | None = None) -> dict:
    """A saved run's configuration (its config.toml's or a checkpoint's ``config``, written in format ``version``)
    as the run was trained, through the migration table (``prep.train.migrations``), with ``overrides``. No
    option takes today's default. InputError naming ``origin`` when the file is of a newer mmprep or damaged."""
    return resolve(migrations.options(values, version, origin), overrides or {})


def parse_value(name: str, text: str):
    """A value written as text (``--grid lr=1e-3``) in the type the schema gives option ``name``; ``null`` is None
    where the option allows it. The schema check of the whole configuration comes later (``resolve``)."""
    props = options()
    if name not in props:
        raise InputError(f"unknown training option {name!r}; the options are: {', '.join(props)}")
    types = props[name]["type"] if isinstance(props[name]["type"], list) else [props[name]["type"]]
    if text == "null" and "null" in types:
        return None
    try:
        if "boolean" in types:
            return {"true": True, "false": False}[text.lower()]
        if "integer" in types:
            return int(text)
        if "number" in types:
            return float(text)
    except (KeyError, ValueError):
        raise InputError(f"{name}={text}: not a {' or '.join(t for t in types if t != 'null')}") from None
    return text


def format_value(value) -> str:
    """An option's value as text, the way ``parse_value`` reads it back: ``null``, ``true``/``false``, or as is."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_toml(config: dict, version: int | None = None) -> str:
    """The configuration as TOML, grouped as in --help. Unset (null) options are left out. With ``version``, a run's
    saved configuration: its format version (``prep.train.migrations``) comes first."""
    props = options()
    lines = ["# mmprep train: the resolved configuration of this run (schemas/train-config.schema.json)"]
    if version is not None:
        lines.append(f"{migrations.VERSION_KEY} = {version}  # the format version: how later mmprep versions read it")
    for group in GROUP_ORDER:
        lines.append(f"\n# {group}")
        for name, spec in props.items():
            if spec.get("group") == group and config.get(name) is not None:
                lines.append(f"{name} = {_toml_value(config[name])}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    """A TOML value: JSON's spelling does for strings, numbers and arrays; tables are inline ``{key = value}``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        items = (f"{json.dumps(key, ensure_ascii=False)} = {_toml_value(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    return json.dumps(value, ensure_ascii=False)
