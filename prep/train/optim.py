"""AdamW with the mask embedding in a group of its own (docs/missing-modality.md §4), and a warmup + cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..model.translation import SignTranslationModel


def build_optimizer(model: SignTranslationModel, config: dict) -> torch.optim.AdamW:
    """Three groups: weights (decayed), biases and norms (not decayed), and the mask embedding at
    ``mask_lr_scale * lr`` with its own weight decay. Each group records its ``name``."""
    mask = model.placeholder.mask
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad or param is mask:
            continue
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [
        {"name": "weights", "params": decay, "weight_decay": config["weight_decay"]},
        {"name": "biases_and_norms", "params": no_decay, "weight_decay": 0.0},
    ]
    if mask is not None:
        groups.append(
            {
                "name": "mask",
                "params": [mask],
                "weight_decay": config["mask_weight_decay"],
                "lr": config["lr"] * config["mask_lr_scale"],
            }
        )
    return torch.optim.AdamW(groups, lr=config["lr"])


def warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float):
    """Linear warmup over ``warmup_ratio * total_steps``, then cosine decay to zero at ``total_steps``."""
    warmup = max(1, round(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def clip_gradients(model: SignTranslationModel, config: dict) -> dict[str, float]:
    """Clip the mask's gradient on its own, then every gradient together. Returns the norms before clipping."""
    norms = {}
    mask = model.placeholder.mask
    if mask is not None and mask.grad is not None:
        norms["mask"] = float(nn.utils.clip_grad_norm_([mask], config["mask_clip"]))
    norms["total"] = float(nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"]))
    return norms
