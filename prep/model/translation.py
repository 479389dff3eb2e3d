"""The sign-language translation model: pose encoder, text placeholder, gated fusion and an mT5 backbone."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .fusion import GatedFusion, TextPlaceholder, split_placeholder
from .pose_encoder import PoseEncoder


@dataclass
class ModelConfig:
    """Everything needed to rebuild the model around a backbone (saved in every checkpoint)."""

    n_points: int
    text_dim: int
    placeholder: str = "mask+indicator"
    # Base placeholders the model must be able to use (an alternation schedule may need zero and mask).
    placeholder_kinds: tuple[str, ...] = ()
    gate_bias: float = -4.0
    noise_scale: float = 0.1
    pose_layers: int = 2
    pose_kernel: int = 5
    pose_stride: int = 1
    pose_velocity: bool = True
    dropout: float = 0.1

    def __post_init__(self):
        base, _ = split_placeholder(self.placeholder)
        self.placeholder_kinds = tuple(dict.fromkeys((base, *self.placeholder_kinds)))

    @property
    def indicator(self) -> bool:
        return split_placeholder(self.placeholder)[1]

    def to_dict(self) -> dict:
        return {**asdict(self), "placeholder_kinds": list(self.placeholder_kinds)}


class SignTranslationModel(nn.Module):
    """``fused = pose_feature + gate * text`` fed to the backbone as ``inputs_embeds``.

    The backbone is any Hugging Face encoder-decoder taking ``inputs_embeds`` (mT5 here).
    """

    def __init__(self, backbone: nn.Module, config: ModelConfig, mask_init: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        d_model = backbone.config.d_model
        self.pose_encoder = PoseEncoder(
            config.n_points,
            d_model,
            layers=config.pose_layers,
            kernel_size=config.pose_kernel,
            dropout=config.dropout,
            stride=config.pose_stride,
            velocity=config.pose_velocity,
        )
        self.placeholder = TextPlaceholder(
            config.text_dim, config.placeholder_kinds, mask_init=mask_init, noise_scale=config.noise_scale
        )
        self.fusion = GatedFusion(d_model, config.text_dim, config.indicator, gate_bias=config.gate_bias)
        self.backbone = backbone

    def fuse(
        self,
        batch: dict,
        present: torch.Tensor | None = None,
        kind: str | None = None,
        gate_scale: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The backbone's input for a collated batch: (inputs_embeds [B, T', d], attention mask [B, T'], gate);
        T' is T divided by the pose encoder's stride.

        ``present`` overrides which samples count as having text (text dropout, scenario B of the
        consistency check); ``kind`` overrides the placeholder; ``gate_scale`` [B] scales the gate."""
        pose, mask = self.pose_encoder(batch["keypoints"], batch["conf"], batch["mask"])
        present = batch["has_text"] if present is None else present
        text = self.placeholder(batch["text"].to(pose.dtype), present, kind)
        fused, gate = self.fusion(pose, text, present, gate_scale)
        return fused, mask, gate

    def forward(
        self,
        batch: dict,
        labels: torch.Tensor,
        present: torch.Tensor | None = None,
        kind: str | None = None,
        gate_scale: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> dict:
        """Teacher-forced pass. ``labels`` [B, L] with -100 on padding. Returns loss, logits, the gate and the
        mask of the fused steps."""
        embeds, mask, gate = self.fuse(batch, present, kind, gate_scale)
        out = self.backbone(inputs_embeds=embeds, attention_mask=mask, labels=labels)
        loss = F.cross_entropy(
            out.logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100, label_smoothing=label_smoothing
        )
        return {"loss": loss, "logits": out.logits, "gate": gate, "mask": mask}

    @torch.no_grad()
    def generate(
        self,
        batch: dict,
        present: torch.Tensor | None = None,
        kind: str | None = None,
        gate_scale: torch.Tensor | None = None,
        **generate_kwargs,
    ) -> torch.Tensor:
        """Token ids decoded by the backbone's ``generate`` on the fused embeddings."""
        embeds, mask, _ = self.fuse(batch, present, kind, gate_scale)
        return self.backbone.generate(inputs_embeds=embeds, attention_mask=mask, **generate_kwargs)
