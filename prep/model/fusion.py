"""Placeholders for a missing description; token and gated fusion (docs/missing-modality.md §1, §3).

A video's text enters the model as one pooled feature vector. When the video has no description (or text
dropout removed it in training) a *placeholder* stands in for it:

=====================  =====  ==========================================================================
``--placeholder``      id     what stands in for missing text
=====================  =====  ==========================================================================
``zero``                      the zero of the standardised space: the mean description
``raw-zero``           A      a zero vector in the text encoder's own space, standardised as any other
``mask``               B      a learnable mask embedding, initialised from ``mask_init`` (or randomly)
``noise``              C      ``randn * noise_scale`` in the standardised space, fresh per call in training,
                              one fixed vector in eval
``zero+indicator``            ``zero``, and a has-text indicator goes into the gate
``raw-zero+indicator`` D      A, and a has-text indicator goes into the gate
``mask+indicator``     B+D    B, and a has-text indicator goes into the gate
=====================  =====  ==========================================================================

Before fusion every text vector, real or placeholder, is *standardised* with the training split's statistics:
the mean description feature is subtracted and the result divided by the features' typical spread. Pooled
encoder features share a large common component (cosine ~0.9 to their mean) that carries no information about
the video; standardising removes it, so what tells descriptions apart reaches the model at a usable scale. The
``zero`` placeholder is the zero of that space (the mean description, as far as the model can tell), and the
mask embedding, kept in the encoder's own space so that its cosine to the mean feature stays meaningful, starts
at ``mask_init`` (the same mean), so at zero too. ``raw-zero`` is the design's zero vector, taken in the
encoder's space before standardising: ``-center / scale``, a fixed point as far from the mean as the common
component is long, where no description lies.

Two fusions (``--fusion``), both through a learned linear projection to the backbone's width:

- ``token``: the projected text is one more step of the backbone's input, before the pose steps; the encoder
  attends to it wherever it helps. With an indicator, a learned "no text" embedding is added to the step of a
  sample without text;
- ``gate`` (the design's): ``fused = pose + gate * text``, ``gate = sigmoid(W [pose; text; indicator] + b)``
  per step and channel, the text broadcast over time.

Each fusion also says how much of the text it lets into a sample (``TEXT_WEIGHT``): the diagnostics log it in
training, `mmprep eval` and `mmprep translate` give it per video. It is a different statistic per fusion, so it
goes by a different name: ``gate_opening`` (gate) and ``text_norm_share`` (token).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .. import schemas

PLACEHOLDERS = schemas.enum("train-config", "properties", "placeholder")  # zero, mask, noise, raw-zero, +indicator
BASE_KINDS = tuple(dict.fromkeys(name.partition("+")[0] for name in PLACEHOLDERS))  # zero, mask, noise, raw-zero


class TextWeight(NamedTuple):
    """What a fusion reports of how much text it lets in: ``name`` in files (metrics.jsonl's
    ``<name>_with_text`` and ``<name>_without_text``, eval predictions' ``<name>`` and ``<name>_without_text``, a
    translation's ``<name>``), ``label`` in plots, ``meaning`` in words."""

    name: str
    label: str
    meaning: str


# Per fusion, the third output of its forward (per step), averaged over a sample's steps and channels.
TEXT_WEIGHT = {
    "gate": TextWeight(
        "gate_opening",
        "gate opening",
        "the gate's mean opening, sigmoid(W [pose; text; indicator] + b) times the inference mode's factor, over "
        "frames and channels (0: shut, text ignored; 1: fully open)",
    ),
    "token": TextWeight(
        "text_norm_share",
        "text step's norm share",
        "the pooled text step's share of the input norm, |text step| / (|text step| + mean |pose step|), after the "
        "inference mode's factor (0: no text; the description's per-token steps are not counted)",
    ),
}
# Files written before the statistic was named for its fusion call it "gate" whatever the fusion (metrics.jsonl:
# gate_with_text, gate_without_text; eval predictions: gate, gate_without_text): old name -> suffix of today's.
OLD_NAMES = {"gate": "", "gate_with_text": "_with_text", "gate_without_text": "_without_text"}


def with_current_names(record: dict, fusion: str) -> dict:
    """``record`` (a metrics.jsonl line, an eval prediction) with ``OLD_NAMES`` replaced by ``fusion``'s names."""
    name = TEXT_WEIGHT[fusion].name
    return {(name + OLD_NAMES[key] if key in OLD_NAMES else key): value for key, value in record.items()}


def standard_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean [D], root-mean-square spread around it, a scalar) of training features [N, D]."""
    center = features.float().mean(0)
    return center, (features.float() - center).pow(2).mean().sqrt().clamp(min=1e-6)


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
        # The training split's text statistics (``set_statistics``); saved with the model's weights.
        self.register_buffer("center", torch.zeros(text_dim))
        self.register_buffer("scale", torch.ones(()))

    @torch.no_grad()
    def set_statistics(self, features: torch.Tensor) -> None:
        """Standardise with the mean and the root-mean-square spread around it of ``features`` [N, D], the
        training split's description features (never evaluation data)."""
        center, scale = standard_statistics(features)
        self.center.copy_(center)
        self.scale.copy_(scale)

    def standardize(self, text: torch.Tensor) -> torch.Tensor:
        return (text - self.center.to(text.dtype)) / self.scale.to(text.dtype)

    def placeholder(self, batch_size: int, like: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """The standardised placeholder of ``kind`` (default: the one in use) for a batch, shaped like ``like``."""
        kind = kind or self.kind
        if kind == "zero":
            return torch.zeros_like(like)
        if kind == "raw-zero":
            return self.standardize(torch.zeros_like(like))
        if kind == "mask":
            if self.mask is None:
                raise ValueError("this model was built without a mask embedding")
            return self.standardize(self.mask.to(like.dtype)).expand(batch_size, -1)
        if self.training:
            return torch.randn_like(like) * self.noise_scale
        return self.eval_noise.to(like.dtype).expand(batch_size, -1)

    def forward(self, text: torch.Tensor, present: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """``text`` [B, D] (anything where absent), ``present`` bool [B] -> the standardised text [B, D]."""
        filler = self.placeholder(text.shape[0], text, kind)
        return torch.where(present[:, None], self.standardize(text), filler)


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
        self.text_proj = nn.Linear(text_dim, d_model, bias=False)
        self.gate = nn.Linear(2 * d_model + int(indicator), d_model)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(
        self,
        pose: torch.Tensor,
        mask: torch.Tensor,
        text: torch.Tensor,
        present: torch.Tensor,
        gate_scale: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``pose`` [B, T, d] with ``mask`` [B, T], ``text`` [B, Dt], ``present`` [B] (the indicator: 1 = real text).

        ``gate_scale`` [B] multiplies the gate (inference modes: conservative, adaptive). Returns the fused
        features [B, T, d], their mask [B, T] and the gate [B, T, d] (``TEXT_WEIGHT["gate"]``)."""
        projected = self.text_proj(text)[:, None, :].expand_as(pose)
        parts = [pose, projected]
        if self.indicator:
            parts.append(present.to(pose.dtype)[:, None, None].expand(-1, pose.shape[1], 1))
        gate = torch.sigmoid(self.gate(torch.cat(parts, dim=-1)))
        if gate_scale is not None:
            gate = gate * gate_scale.to(gate.dtype)[:, None, None]
        return pose + gate * projected, mask, gate


class TokenFusion(nn.Module):
    """The text as one more step of the backbone's input, before the pose steps: ``[proj(text); pose]``.

    The encoder's self-attention reads it from the first step of training (nothing to open first), and decides
    per output where it helps. With ``indicator``, a learned "no text" embedding is added to the text step of a
    sample without text (the zero placeholder then gives exactly that embedding). ``gate_scale`` [B] scales the
    whole text step (inference modes): 0 makes A and B identical. Its text weight (``TEXT_WEIGHT["token"]``) is the
    pooled text step's share of the input norm, ``|text step| / (|text step| + mean |pose step|)``, of the step
    as it enters (after ``gate_scale``)."""

    def __init__(self, d_model: int, text_dim: int, indicator: bool, text_tokens: bool = False):
        super().__init__()
        self.indicator = indicator
        self.text_proj = nn.Linear(text_dim, d_model, bias=False)  # no bias: the zero placeholder stays zero
        self.missing = nn.Parameter(torch.zeros(d_model)) if indicator else None
        # The description's per-token features as more steps after the pooled one (video with text only),
        # standardised with the training split's token statistics (``set_token_statistics``).
        self.token_proj = nn.Linear(text_dim, d_model, bias=False) if text_tokens else None
        if text_tokens:
            self.register_buffer("token_center", torch.zeros(text_dim))
            self.register_buffer("token_scale", torch.ones(()))

    @torch.no_grad()
    def set_token_statistics(self, features: torch.Tensor) -> None:
        """Mean and root-mean-square spread of the training split's per-token features [N, D]."""
        center, scale = standard_statistics(features)
        self.token_center.copy_(center)
        self.token_scale.copy_(scale)

    def standardize_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return (tokens - self.token_center.to(tokens.dtype)) / self.token_scale.to(tokens.dtype)

    def forward(
        self,
        pose: torch.Tensor,
        mask: torch.Tensor,
        text: torch.Tensor,
        present: torch.Tensor,
        gate_scale: torch.Tensor | None = None,
        tokens: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """As ``GatedFusion.forward``, but the fused input has the text step first (T + 1 steps), and with
        ``tokens`` [B, L, Dt] (``token_mask`` [B, L]) the description's L token steps after it, for the samples
        whose text is present; the third output is the text step's norm share, per step [B, T', 1]."""
        token = self.text_proj(text)
        if self.missing is not None:
            token = token + (~present).to(token.dtype)[:, None] * self.missing.to(token.dtype)
        steps, step_mask = [token[:, None, :]], [torch.ones_like(mask[:, :1])]
        if self.token_proj is not None and tokens is not None:
            keep = (token_mask & present[:, None]).to(pose.dtype)
            steps.append(self.token_proj(self.standardize_tokens(tokens)) * keep[..., None])
            step_mask.append(keep)
        if gate_scale is not None:
            steps = [step * gate_scale.to(token.dtype)[:, None, None] for step in steps]
        text_norm = steps[0][:, 0].norm(dim=-1)
        pose_norm = (pose.norm(dim=-1) * mask).sum(1) / mask.sum(1).clamp(min=1)
        share = text_norm / (text_norm + pose_norm).clamp(min=1e-6)
        fused = torch.cat([*steps, pose], dim=1)
        fused_mask = torch.cat([*step_mask, mask], dim=1)
        return fused, fused_mask, share[:, None, None].expand(-1, fused.shape[1], 1)
