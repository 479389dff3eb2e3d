"""`mmprep export-model`: a trained run as a self-contained folder that loads with no store, no network, no pickle.

    DIR/mmprep-model.json        the spec (``prep.inference.spec``) and the sha256 of every weight file
    DIR/backbone/                the mT5 backbone and its tokenizer, by ``save_pretrained`` (safetensors)
    DIR/pose_fusion.safetensors  the pose encoder, the placeholder(s) and the gated fusion; with the ensemble
                                 mode's mask, ``store.mask_init`` when the model has no mask embedding
    DIR/README.md                the model card (``prep.inference.model_card``)

``mmprep-model.json`` is written last: a folder without it is an unfinished export. Loading checks every file
against its recorded hash first, so a damaged or swapped file is named before anything is read from it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import MT5ForConditionalGeneration

from .. import schemas
from ..errors import DiskFullError, InputError, is_disk_full, no_space
from ..evaluate.loading import Run, load_run
from ..model.translation import ModelConfig, SignTranslationModel
from ..text.hub import load_tokenizer, quiet_transformers, resolve_device
from ..train import migrations
from ..train.checkpoint import tensor_bytes
from ..train.run_dir import BACKBONE as RUN_BACKBONE
from . import model_card
from .spec import FORMAT, FORMAT_VERSION, run_spec

SPEC = "mmprep-model.json"
BACKBONE = "backbone"
WEIGHTS = "pose_fusion.safetensors"
CARD = "README.md"
SPEC_SCHEMA = "exported-model"
STORE_MASK = "store.mask_init"  # not a model parameter: the ensemble's mask for a model without a mask embedding


def export_model(run_dir: str | Path, out: str | Path, checkpoint: str = "best", store_url: str | None = None,
                 storage_options: dict | None = None) -> tuple[Path, list[str]]:  # fmt: skip
    """Write the run's ``checkpoint`` into the new folder ``out``. Returns (``out``, notes for the user)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; export into a new folder")
    run = load_run(run_dir, checkpoint, store_url, storage_options, device="cpu")
    spec, notes = run_spec(run)
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        _write(run, spec, out)
    except BaseException as e:  # the folder was new or empty: what is in it now is an unfinished export
        shutil.rmtree(out)
        if existed:
            out.mkdir()
        if is_disk_full(e):
            raise DiskFullError(f"{no_space(out.parent, 'the exported model', _size(run))}; the unfinished {out} "
                                "was removed. Free some space, then export again") from e  # fmt: skip
        raise
    return out, notes


def _size(run: Run) -> int:
    """About what an export of ``run`` writes: its weights, and its backbone's tokenizer and configuration."""
    return tensor_bytes(run.model.state_dict()) + sum(
        p.stat().st_size for p in (run.run_dir / RUN_BACKBONE).glob("*.json")
    )


def _write(run: Run, spec: dict, out: Path) -> None:
    """The exported folder's files, ``mmprep-model.json`` last."""
    with quiet_transformers():
        run.model.backbone.save_pretrained(out / BACKBONE)
    run.tokenizer.save_pretrained(out / BACKBONE)
    weights = {k: v.contiguous() for k, v in run.model.state_dict().items() if not k.startswith("backbone.")}
    info = run.store.mask_init_info
    if run.model.placeholder.mask is None and info is not None and info["current"]:
        weights[STORE_MASK] = torch.from_numpy(run.store.mask_init).float()
    save_file(weights, out / WEIGHTS, metadata={"format": "pt"})
    (out / CARD).write_text(model_card.render(run, spec), encoding="utf-8")
    spec["files"] = {name: _sha256(out / name) for name in _weight_files(out)}
    tmp = out / (SPEC + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / SPEC)  # the commit point


def is_export(folder: str | Path) -> bool:
    """Whether ``folder`` is an exported model, whole or not: its spec or its weights are there."""
    return any((Path(folder) / name).exists() for name in (SPEC, WEIGHTS))


def load_export(folder: str | Path, device: str = "auto", need_mask: bool = False):
    """(model in eval mode on its device, tokenizer, device, spec) of an exported folder."""
    folder = Path(folder)
    spec = _read_spec(folder)
    version, _ = migrations.split_version(spec, str(folder / SPEC))  # of its model's configuration
    _check_files(folder, spec["files"])
    try:
        with quiet_transformers():
            backbone = MT5ForConditionalGeneration.from_pretrained(folder / BACKBONE, use_safetensors=True)
        tokenizer = load_tokenizer(str(folder / BACKBONE))
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(f"{folder / BACKBONE}: cannot load the backbone: {e}; export the model again") from e
    try:
        weights = load_file(folder / WEIGHTS)
    except (SafetensorError, OSError) as e:
        raise InputError(f"{folder / WEIGHTS}: not a readable safetensors file ({e}); export the model again") from e
    config = ModelConfig.from_dict(migrations.model(spec["model"], version, f"{folder / SPEC}: model"))
    store_mask = weights.pop(STORE_MASK, None)
    mask = torch.zeros(config.text_dim) if "mask" in config.placeholder_kinds else None  # replaced by the weights
    model = SignTranslationModel(backbone, config, mask)
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:  # sizes that differ: the spec's model is not the one the weights were trained as
        mismatch = next((line.strip().rstrip(".") for line in str(e).splitlines() if "size mismatch" in line), e)
        raise InputError(
            f"{folder / WEIGHTS} does not fit the model of {SPEC} ({mismatch}): was {SPEC} changed? Copy it again "
            "from the original export, or export the model again"
        ) from None
    missing = [k for k in missing if not k.startswith("backbone.")]
    if missing or unexpected:
        raise InputError(
            f"{folder / WEIGHTS} does not fit the model of {SPEC}: missing {missing or 'nothing'}, unexpected "
            f"{unexpected or 'nothing'}; export the model again"
        )
    if need_mask and model.placeholder.mask is None:
        if store_mask is None:
            raise InputError(
                f"{folder}: the model has no mask embedding and its store had no current mask_init when it was "
                "exported, so the ensemble mode has no mask placeholder; choose another --mode"
            )
        model.placeholder.mask = torch.nn.Parameter(store_mask.reshape(1, -1), requires_grad=False)
    target = resolve_device(device)
    return model.to(target).eval(), tokenizer, target, spec


def _read_spec(folder: Path) -> dict:
    """The folder's spec, checked against schemas/exported-model.schema.json."""
    path = folder / SPEC
    if (folder / WEIGHTS).exists() and not path.exists():
        raise InputError(
            f"{folder} has no {SPEC}: an unfinished or damaged export (the spec is written last); copy the folder "
            "whole from the original export, or export the model again"
        )
    if not path.is_file():
        raise InputError(
            f"{folder} is not an exported model (no {SPEC}); write one with `mmprep export-model RUN --out {folder}`"
        )
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not readable JSON ({e}); export the model again") from e
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or spec.get("format_version", 0) > FORMAT_VERSION:
        found = (spec.get("format"), spec.get("format_version")) if isinstance(spec, dict) else (None, None)
        raise InputError(
            f"{path}: format {found[0]!r} version {found[1]!r}; this mmprep reads {FORMAT!r} up to version "
            f"{FORMAT_VERSION} (upgrade mmprep, or export again)"
        )
    problems = schemas.errors(SPEC_SCHEMA, spec)
    if problems:
        raise InputError(
            f"{path} was changed or damaged: {'; '.join(problems)}. Copy it again from the original export, or export "
            "the model again"
        )
    return spec


def _weight_files(folder: Path) -> list[str]:
    """Every file of the export but the spec and the card, as '/'-separated relative paths."""
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(n for n in names if n not in (SPEC, SPEC + ".tmp", CARD))


def _check_files(folder: Path, files: dict[str, str]) -> None:
    """Every file the model is loaded from (the weights, the backbone's files) is recorded and has its hash."""
    read = [name for name in _weight_files(folder) if name == WEIGHTS or name.startswith(BACKBONE + "/")]
    unrecorded = [name for name in read if name not in files]
    if unrecorded:
        more = f" (nor are {len(unrecorded) - 1} more)" if len(unrecorded) > 1 else ""
        raise InputError(
            f"{folder / unrecorded[0]} is not among the files {folder / SPEC} records{more}: the spec was changed or "
            "belongs to another export; export the model again"
        )
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise InputError(f"{path} is missing: the exported folder is incomplete; copy it whole, or export again")
        if _sha256(path) != digest:
            raise InputError(
                f"{path} is damaged or was changed (its sha256 is not the one {SPEC} records); copy it again from "
                "the original export, or export the model again"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
