"""Saved configurations across mmprep versions: one format version and one migration table for every reader.

A run saves its configuration in RUN_DIR/config.toml and in each checkpoint (the training options as
``config``, the model's as ``model_config``); an exported model's mmprep-model.json holds the model's as
``model``. Each file records ``config_version``, the format they were written in; a file without one was written
before versions: version 0. Reading one takes it through ``STEPS``, from its version to ``CONFIG_VERSION``: a step
names the options the next version added, with the value a file without them means (what mmprep did before the
option existed), and the options it removed. A saved configuration records every option but those that are
null (TOML has no null), so once migrated a missing option is null, and an option missing otherwise is a damaged
file: today's defaults are for new runs only, never for a saved one. A version newer than this mmprep's is
refused. The readers: ``config.resolve_saved`` (config.toml for --resume, report, answers, collect_ablation; a
checkpoint's ``config``), ``checkpoint.load`` (eval, translate, export-model, the model card, --resume) and the
exported model's loader.

Adding an option (to schemas/train-config.schema.json, nullable or not, or a field to ModelConfig): raise the
version by appending a Step that names it with the value reproducing what mmprep did before it. Changing a
default needs nothing here: every saved file records the value its run used.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import schemas
from .._version import __version__
from ..errors import InputError

VERSION_KEY = "config_version"


@dataclass(frozen=True)
class Step:
    """What one format version changed, for a file of the version before it."""

    options: dict  # training options added -> the value a file without the option means
    model: dict  # ModelConfig fields added -> likewise
    removed: dict  # options dropped (from either) -> the one value of it that today's mmprep reproduces


# STEPS[v] takes a file of version v to version v + 1.
STEPS = (
    # 0 -> 1: the files written before versions (mmprep 0.1.0, until December 2026). Each option added since the
    # first training loop (9f0d429), with what the code did before it (`git log -S NAME -- schemas prep/model`).
    Step(
        options={
            "tiny_max_piece_length": 16,  # 1abebe5: the tiny tokenizer's pieces were capped at build_tiny_mt5's 16
            "pose_stride": 1,  # 1abebe5: every frame a step
            "pose_velocity": False,  # f6718e2: positions and confidences only
            "storage_options": None,  # 84538ff
            "log_to": "jsonl",  # 4a74fb4
            "fusion": "gate",  # 5bb86b2: the design's gate was the only fusion
            "ctc_weight": 0.0,  # 5bb86b2: no gloss head
            # f79c73a added it as false, f3392a2 made null (decided by the store) the default, which a file leaves
            # out: null, which is false for the stores of before f79c73a (no per-token features)
            "text_tokens": None,
            "augment": False,  # f3392a2
            "pose_positions": False,  # f3392a2
            "text_prior": False,  # 0394997
            "prior_coverage": False,  # ac18a45
            "prior_tokens": False,  # 390da4b
            "tempo_warp": 1.0,  # 6d04426: one tempo per video
            "word_dropout": 0.0,  # 502b7b0
            "gloss_input": False,  # fc0e4bc
            "gradient_checkpointing": False,  # 0cecef3
        },
        model={
            "pose_stride": 1,
            "pose_velocity": False,
            "fusion": "gate",
            "glosses": [],  # 5bb86b2: no gloss head
            "text_tokens": False,
            "pose_positions": False,
            "text_prior": False,
            "prior_coverage": False,
            "prior_tokens": False,
            "gloss_input": False,
        },
        removed={"ctc_input": "pose"},  # fd8f427, reverted in a5d3bca: the gloss head reads the pose features
    ),
)
CONFIG_VERSION = len(STEPS)


def split_version(values: dict, origin: str) -> tuple[int, dict]:
    """(the format version ``values`` records, 0 without one; ``values`` without it). InputError naming ``origin``
    when the version is not one, or newer than this mmprep reads."""
    version = values.get(VERSION_KEY, 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InputError(f"{origin}: {VERSION_KEY} = {version!r} is not a format version (a whole number from 0)")
    if version > CONFIG_VERSION:
        raise InputError(
            f"{origin} was written by a newer mmprep: configuration format version {version}, and this mmprep "
            f"({__version__}) reads versions up to {CONFIG_VERSION}. Upgrade mmprep to read it"
        )
    return version, {k: v for k, v in values.items() if k != VERSION_KEY}


def options(values: dict, version: int, origin: str) -> dict:
    """A saved run's training options (a config.toml's, a checkpoint's ``config``), written in format ``version``,
    as today's mmprep reads them: every option of the schema, a missing nullable one null."""
    values = _migrate(values, version, "options", origin)
    props = schemas.load("train-config")["properties"]
    missing = [name for name, spec in props.items() if name not in values and "null" not in spec["type"]]
    if missing:
        raise InputError(
            f"{origin} lacks {', '.join(missing)}: a saved configuration records every option. Restore the file "
            "from an intact copy of the run"
        )
    return {**{name: None for name in props}, **values}


def model(values: dict, version: int, origin: str) -> dict:
    """A saved ModelConfig (a checkpoint's ``model_config``, an exported model's ``model``), written in format
    ``version``, as ``ModelConfig.from_dict`` takes it: every field, checked."""
    from ..model.translation import ModelConfig  # here: the command line's modules must not import torch

    values = _migrate(values, version, "model", origin)
    try:
        ModelConfig.from_dict(values)
    except (TypeError, ValueError) as e:  # a field missing, unknown or at odds with another
        raise InputError(f"{origin}: {e}; the file was changed or damaged: restore it from an intact copy") from None
    return values


def _migrate(values: dict, version: int, part: str, origin: str) -> dict:
    """``values`` (``part``: "options" or "model") taken from format ``version`` to ``CONFIG_VERSION``."""
    values = dict(values)
    for step in STEPS[version:]:
        for name, reproduced in step.removed.items():
            if name in values and (value := values.pop(name)) != reproduced:
                raise InputError(
                    f"{origin}: {name} = {value!r}, an option this mmprep no longer has (it reproduces only "
                    f"{name} = {reproduced!r}); read the run with the mmprep that wrote it, or train it again"
                )
        values = {**getattr(step, part), **values}
    return values
