"""The ``mmprep`` command group and the options every command shares. Commands only parse and report."""

from __future__ import annotations

import importlib

import click

from .._version import __version__
from ..errors import MmprepError, disk_full_cause, is_disk_full

# Which module of prep/cli registers each command (with ``@main.command``). A command's module is imported
# only when that command runs (or a help lists it), so a command does not load what only others need.
COMMANDS = {
    "ablate": "ablate", "encode-text": "text", "eval": "evaluate", "export": "interop", "export-model": "inference",
    "extract": "extract", "import": "interop", "info": "store_commands", "init-mask": "text", "inspect": "inspect",
    "manifest": "store_commands", "prepare": "prepare", "render": "inspect", "report": "evaluate", "synth": "synth",
    "train": "train", "translate": "inference", "unlock": "store_commands", "validate": "store_commands",
}  # fmt: skip


class Group(click.Group):
    """Loads each command's module on demand (``COMMANDS``), and turns the errors a user can act on into a
    one-line message and exit status 1 (no traceback)."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx, name: str):
        if name in COMMANDS and name not in self.commands:
            importlib.import_module(f"{__package__}.{COMMANDS[name]}")
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MmprepError as e:
            raise click.ClickException(str(e)) from e
        except Exception as e:  # a full disk where no command expected one: still one line
            if not is_disk_full(e):
                raise
            cause = disk_full_cause(e)
            where = f" ({cause.filename})" if cause is not None and cause.filename else ""
            raise click.ClickException(f"no space left on the disk{where}; free some space and run the command "
                                       "again") from e  # fmt: skip
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
