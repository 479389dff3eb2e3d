"""The ``mmprep`` command group and the options every command shares. Commands only parse and report."""

from __future__ import annotations

import functools

import click

from .._version import __version__
from ..errors import MmprepError
from ..store import DEFAULT_STORE, STORE_ENV
from ..train.config import JsonObject


class Group(click.Group):
    """Turns the errors a user can act on into a one-line message and exit status 1 (no traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MmprepError as e:
            raise click.ClickException(str(e)) from e
        except KeyboardInterrupt:
            click.echo("\ninterrupted: everything committed so far is kept; rerun the command to continue.", err=True)
            ctx.exit(130)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", "-V", prog_name="mmprep")
def main():
    """mmprep: pose keypoints, text features and missing-modality training for sign-language translation.

    Every command reads or extends one zarr store (--store, default $MMPREP_STORE or ./mmprep.zarr).
    A typical run: `mmprep manifest labels.csv`, `mmprep extract videos/`, `mmprep encode-text
    descriptions.jsonl`, `mmprep init-mask`, `mmprep train`, `mmprep eval`.
    """


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
