"""The ``mmprep`` command group and the options every command shares. Commands only parse and report."""

from __future__ import annotations

import click

from .._version import __version__
from ..errors import MmprepError


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
