"""Placeholders for a missing description and the missing-aware gated fusion (spec sections 1 and 3).

A video's text enters the model as one pooled feature vector. When the video has no description (or text
dropout removed it in training) a *placeholder* stands in for it:

====================  =====  ==========================================================================
``--placeholder``     spec   what stands in for missing text
====================  =====  ==========================================================================
``zero``              A      a zero vector: the placeholder itself has nothing to learn
``mask``              B      a learnable mask embedding, initialised from ``mask_init`` (or randomly)
``noise``             C      ``randn * noise_scale``, fresh per call in training, one fixed vector in eval
``zero+indicator``    D      A, and a has-text indicator goes into the gate
``mask+indicator``    B+D    B, and a has-text indicator goes into the gate
====================  =====  ==========================================================================

Fusion: ``fused = pose + gate * text``, ``gate = sigmoid(W [pose; text; indicator])`` per frame and channel,
the text vector projected to the backbone width when it differs and broadcast over time.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import schemas

PLACEHOLDERS = schemas.enum("train-config", "properties", "placeholder")  # zero, mask, noise, and two with +indicator
BASE_KINDS = tuple(dict.fromkeys(name.partition("+")[0] for name in PLACEHOLDERS))  # zero, mask, noise


def split_placeholder(name: str) -> tuple[str, bool]:
    """``"mask+indicator"`` -> ``("mask", True)``."""
    if name not in PLACEHOLDERS:
        raise ValueError(f"unknown placeholder {name!r}; choose one of {', '.join(PLACEHOLDERS)}")
    base, _, indicator = name.partition("+")
    return base, bool(indicator)


class TextPlaceholder(nn.Module):
    """Builds the text vector of a batch: the real feature where present, a placeholder elsewhere.

    ``kinds`` are the base placeholders this model may use (more than one under an alternation schedule);
    ``kind`` is the one in use now. The mask embedding exists only when ``"mask"`` is among the kinds.
    """

    def __init__(
        self,
        text_dim: int,
        kinds: tuple[str, ...],
        mask_init: torch.Tensor | None = None,
        noise_scale: float = 0.1,
        eval_noise_seed: int = 0,
    ):
        super().__init__()
        unknown = set(kinds) - set(BASE_KINDS)
        if unknown or not kinds:
            raise ValueError(f"placeholder kinds must be among {BASE_KINDS}, got {kinds}")
        self.kinds = tuple(kinds)
        self.kind = self.kinds[0]
        self.noise_scale = noise_scale
        if "mask" in kinds:
            if mask_init is None:
                raise ValueError("the mask placeholder needs an initial value (mask_init or random)")
            self.mask = nn.Parameter(mask_init.detach().clone().float().reshape(1, text_dim))
        else:
            self.mask = None
        generator = torch.Generator().manual_seed(eval_noise_seed)
        # One fixed noise vector for evaluation, so inference with the noise placeholder is repeatable.
        self.register_buffer("eval_noise", torch.randn(1, text_dim, generator=generator) * noise_scale)

    def placeholder(self, batch_size: int, like: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        kind = kind or self.kind
        if kind == "zero":
            return torch.zeros_like(like)
        if kind == "mask":
            if self.mask is None:
                raise ValueError("this model was built without a mask embedding")
            return self.mask.to(like.dtype).expand(batch_size, -1)
        if self.training:
            return torch.randn_like(like) * self.noise_scale
        return self.eval_noise.to(like.dtype).expand(batch_size, -1)

    def forward(self, text: torch.Tensor, present: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """``text`` [B, D] (anything where absent), ``present`` bool [B] -> [B, D]."""
        filler = self.placeholder(text.shape[0], text, kind)
        return torch.where(present[:, None], text, filler)


class GatedFusion(nn.Module):
    """``fused = pose + gate * proj(text)`` with ``gate = sigmoid(W [pose; proj(text); indicator])``.

    ``gate_bias`` sets where the gate starts: the default -4 (gate ~0.018, and W starts at zero) makes a new
    model behave as the pose-only model, so text is only let in as far as it helps. The source design
    suggests starting near 0.5; that injects the (random) projected text at full strength into a pretrained
    backbone from step one. Pass ``gate_bias=0`` to get the source's choice.
    """

    def __init__(self, d_model: int, text_dim: int, indicator: bool, gate_bias: float = -4.0):
        super().__init__()
        self.indicator = indicator
        # No bias: a zero placeholder must stay zero after projection.
        self.text_proj = nn.Identity() if text_dim == d_model else nn.Linear(text_dim, d_model, bias=False)
        self.gate = nn.Linear(2 * d_model + int(indicator), d_model)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(
        self,
        pose: torch.Tensor,
        text: torch.Tensor,
        present: torch.Tensor,
        gate_scale: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``pose`` [B, T, d], ``text`` [B, Dt], ``present`` [B] (the indicator: 1 = real text).

        ``gate_scale`` [B] multiplies the gate (inference modes: conservative, adaptive). Returns the fused
        features [B, T, d] and the gate [B, T, d]."""
        projected = self.text_proj(text)[:, None, :].expand_as(pose)
        parts = [pose, projected]
        if self.indicator:
            parts.append(present.to(pose.dtype)[:, None, None].expand(-1, pose.shape[1], 1))
        gate = torch.sigmoid(self.gate(torch.cat(parts, dim=-1)))
        if gate_scale is not None:
            gate = gate * gate_scale.to(gate.dtype)[:, None, None]
        return pose + gate * projected, gate
