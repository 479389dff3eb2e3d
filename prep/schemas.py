"""Access to the JSON Schemas in ``schemas/``: the only place the rules for files and store metadata live."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
from referencing import Registry, Resource

BASE_URI = "https://mmprep.invalid/schemas/"


def schema_dir() -> Path:
    """The folder holding the schema files: inside the installed wheel, or the repository's ``schemas/``."""
    packaged = Path(str(resources.files("prep"))) / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


@cache
def _registry() -> Registry:
    resources_ = []
    for path in sorted(schema_dir().glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources_.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources_)


def load(name: str) -> dict:
    """The schema called ``name`` (e.g. ``"manifest-row"``) as a dict."""
    return _registry().contents(BASE_URI + f"{name}.schema.json")


def enum(name: str, *path: str) -> tuple:
    """The values an enum of schema ``name`` allows, found at ``path``: ``enum("common", "$defs", "split")``."""
    node = load(name)
    for key in path:
        node = node[key]
    return tuple(node["enum"])


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for schema ``name``, or for a definition inside one (``"common.schema.json#/$defs/id"``)."""
    schema = {"$ref": BASE_URI + name} if "#" in name else load(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


def errors(name: str, instance) -> list[str]:
    """Every way ``instance`` breaks schema ``name``, each as 'field: message' (empty when valid)."""
    found = []
    for err in sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        found.append(f"{where}: {_describe(err)}")
    return found


def definition_errors(definition: str, instance) -> list[str]:
    """Every way ``instance`` breaks the shared definition ``common.schema.json#/$defs/<definition>`` (e.g. ``id``)."""
    return [m.removeprefix("(top level): ") for m in errors(f"common.schema.json#/$defs/{definition}", instance)]


def _describe(err: jsonschema.ValidationError) -> str:
    """A shorter message than jsonschema's for the cases users meet most."""
    if err.validator == "pattern" and "description" in err.schema:
        return f"{err.instance!r} is not allowed. {err.schema['description']}"
    if err.validator == "additionalProperties":
        allowed = ", ".join(err.schema.get("properties", {}))
        return f"{err.message}; the allowed fields are: {allowed}"
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    return err.message
