"""The mT5 backbone of a run: loaded from a hub name or folder, or built tiny and random; saved with the run.

A run directory keeps ``backbone/`` (the model's config and tokenizer, never the weights, which live in the
checkpoints), so a run can be resumed or evaluated without the hub. Its config.json also says whether the
output layer is the input embedding (``tiny_mt5.record_tying``): google/mt5-* keep a separate one, which a
model rebuilt from the config alone would lose.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig, MT5ForConditionalGeneration

from ..errors import InputError
from ..text.hub import load_tokenizer, quiet_transformers
from ..text.tiny_mt5 import build_tiny_mt5, record_tying, saved_tying, untie_output_layer
from .run_dir import BACKBONE


def create_backbone(config: dict, train_translations: list[str], run_dir: Path, seed: int):
    """(model, tokenizer) for a new run, and ``run_dir/backbone`` written."""
    target = run_dir / BACKBONE
    if config["backbone"] == "tiny":
        # The tokenizer sees the training split's translations only: dev/test text never shapes the model.
        build_tiny_mt5(
            train_translations,
            target,
            d_model=config["tiny_d_model"],
            num_layers=config["tiny_layers"],
            num_heads=config["tiny_heads"],
            vocab_size=config["tiny_vocab_size"],
            max_piece_length=config["tiny_max_piece_length"],
            seed=seed,
        )
        with quiet_transformers():
            model = MT5ForConditionalGeneration.from_pretrained(target)
        tokenizer = load_tokenizer(str(target))
        return model, tokenizer
    try:
        with quiet_transformers():
            model = MT5ForConditionalGeneration.from_pretrained(config["backbone"])
        tokenizer = load_tokenizer(config["backbone"])
    except (OSError, ValueError) as e:
        raise InputError(
            f"cannot load the backbone {config['backbone']!r}: {e}\nGive a local folder holding an mT5 checkpoint "
            "(config.json, weights, tokenizer), a hub name reachable from this machine, or --backbone tiny."
        ) from e
    model.config.save_pretrained(target)
    record_tying(model, target)
    tokenizer.save_pretrained(target)
    return model, tokenizer


def rebuild_backbone(run_dir: Path, weights: dict[str, torch.Tensor] | None = None):
    """(model, tokenizer) from a run's saved backbone, its tensors allocated but not initialised: load a
    checkpoint into it (or, under DDP, receive rank 0's weights). Initialising mT5-base at random would take
    half a minute only to be overwritten.

    The output layer is untied where the saved config says so, or where ``weights`` (the checkpoint's model
    state) hold an output layer that differs from the input embedding (runs saved before the config said it)."""
    target = Path(run_dir) / BACKBONE
    if not (target / "config.json").exists():
        raise InputError(f"{run_dir} is not an mmprep run directory (no {BACKBONE}/config.json)")
    with torch.device("meta"):
        model = MT5ForConditionalGeneration(AutoConfig.from_pretrained(target))
    model.to_empty(device="cpu")
    model.tie_weights(recompute_mapping=False)  # to_empty gave each tied matrix a tensor of its own
    if not saved_tying(target) or _untied_in(weights):
        untie_output_layer(model)
    return model, load_tokenizer(str(target))


def _untied_in(weights: dict[str, torch.Tensor] | None, prefix: str = "backbone.") -> bool:
    if weights is None or prefix + "lm_head.weight" not in weights:
        return False
    head, embedding = weights[prefix + "lm_head.weight"], weights[prefix + "shared.weight"]
    return head.data_ptr() != embedding.data_ptr() and not torch.equal(head, embedding)
