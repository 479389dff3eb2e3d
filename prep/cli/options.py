"""Options that several commands share: the store, JSON-valued options, and one flag per training option."""

from __future__ import annotations

import functools
import json

import click

from .. import schemas
from ..store import DEFAULT_STORE, STORE_ENV
from ..train.config import format_value, options


class JsonObject(click.ParamType):
    """A command-line value given as a JSON object (``--storage-options '{"anon": false}'``)."""

    name = "JSON"

    def convert(self, value, param, ctx) -> dict:
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as e:
            self.fail(f"not valid JSON: {e}", param, ctx)
        if not isinstance(parsed, dict):
            self.fail(f"expected a JSON object such as '{{\"anon\": false}}', not {value!r}", param, ctx)
        return parsed


def train_options(func):
    """Add one flag per schema property (``--text-dropout`` for ``text_dropout``), without defaults of their
    own: a flag left out lets the config file or the schema's default decide."""
    for name, spec in reversed(list(options().items())):
        flag = "--" + name.replace("_", "-")
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        see = f" See docs/{spec['see']}." if "see" in spec else ""
        help_text = f"{spec['description']}{see} [default: {format_value(spec['default'])}]"
        if "boolean" in types:
            decorator = click.option(f"{flag}/--no-{flag[2:]}", name, default=None, help=help_text)
        else:
            if "enum" in spec:
                kind = click.Choice(spec["enum"])
            else:
                base = next(t for t in types if t != "null")
                kind = {"integer": int, "number": float, "object": JsonObject()}.get(base, str)
            decorator = click.option(flag, name, type=kind, default=None, help=help_text)
        func = decorator(func)
    return func


def store_option(func=None, *, of_run: bool = False):
    """``--store URL`` (a local path or an fsspec URL) and ``--storage-options JSON``. With ``of_run``, for
    commands that read a training run: no default and no $MMPREP_STORE, so that ``store_url`` is None unless
    given and the command uses the store recorded in the run."""
    if func is None:
        return functools.partial(store_option, of_run=of_run)
    store = (
        {"help": "The store to read: a local path or an fsspec URL [default: the store the run was trained on]."}
        if of_run
        else {
            "envvar": STORE_ENV,
            "default": DEFAULT_STORE,
            "show_default": True,
            "show_envvar": True,
            "help": "The store: a local path or an fsspec URL such as s3://bucket/prefix.",
        }
    )

    @click.option("--store", "store_url", **store)
    @click.option(
        "--storage-options",
        default=None,
        type=JsonObject(),
        help="fsspec options for a remote store, e.g. '{\"anon\": false}'.",
    )
    @functools.wraps(func)
    def wrapper(*args, store_url, storage_options, **kwargs):
        return func(*args, store_url=store_url, storage_options=storage_options or {}, **kwargs)

    return wrapper


delimiter_option = click.option(
    "--delimiter",
    metavar="CHAR",
    help="The column delimiter of a .csv/.txt/.tsv file [default: tab for .tsv; for .csv and .txt sniffed from "
    "the header: ',', tab, '|' or ';']. E.g. --delimiter '|'.",
)


def _check_language(ctx, param, value):
    problems = schemas.definition_errors("language", value) if value is not None else []
    if problems:
        raise click.BadParameter(f"{problems[0]}; give an ISO 639-1 code such as zh, de or en")
    return value


language_option = click.option(
    "--language",
    metavar="CODE",
    callback=_check_language,
    help="Record the translations' language (ISO 639-1: zh, de, en, ...) in the store; `mmprep eval` tokenises "
    "BLEU by it (zh: characters, others: 13a).",
)


def decoding_options(func):
    """``--mode`` with its ``--alpha`` / ``--factor``, and ``--beam``: how a trained model decodes (eval, translate)."""
    for decorator in reversed([
        click.option(
            "--mode",
            type=click.Choice(schemas.enum("eval-report", "properties", "mode")),
            default="missing-aware",
            show_default=True,
            help="Inference mode; see docs/eval.md#inference-modes.",
        ),
        click.option("--alpha", type=float, help="--mode conservative: gate factor in [0, 1] (0.4-0.6 balanced)."),
        click.option("--factor", type=float, help="--mode adaptive: gate factor without text in [0, 1] (0: pose only)."),
        click.option(
            "--beam", "beams", type=click.IntRange(min=1), default=1, show_default=True, help="Beam size (1: greedy)."
        ),
    ]):  # fmt: skip
        func = decorator(func)
    return func
