"""The sign-language translation model: pose encoder, text placeholder, gated fusion and an mT5 backbone."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .fusion import GatedFusion, TextPlaceholder, TokenFusion, split_placeholder
from .pose_encoder import PoseEncoder


@dataclass
class ModelConfig:
    """Everything needed to rebuild the model around a backbone (saved in every checkpoint)."""

    n_points: int
    text_dim: int
    placeholder: str = "mask+indicator"
    # Base placeholders the model must be able to use (an alternation schedule may need zero and mask).
    placeholder_kinds: tuple[str, ...] = ()
    fusion: str = "token"
    text_tokens: bool = False  # token fusion: the description's per-token features as more input steps
    gate_bias: float = -4.0
    noise_scale: float = 0.1
    pose_layers: int = 2
    pose_kernel: int = 5
    pose_stride: int = 1
    pose_velocity: bool = True
    pose_positions: bool = False  # False: checkpoints from before the option (training's default is true)
    dropout: float = 0.1
    # The training split's gloss vocabulary: with one, a CTC head on the pose features learns to recognise the
    # glosses (an auxiliary loss, ``ctc_weight``); empty: no head.
    glosses: tuple[str, ...] = ()

    def __post_init__(self):
        if self.text_tokens and self.fusion != "token":
            raise ValueError("per-token text features (text_tokens) need token fusion (--fusion token)")
        base, _ = split_placeholder(self.placeholder)
        self.placeholder_kinds = tuple(dict.fromkeys((base, *self.placeholder_kinds)))

    @property
    def indicator(self) -> bool:
        return split_placeholder(self.placeholder)[1]

    def to_dict(self) -> dict:
        return {**asdict(self), "placeholder_kinds": list(self.placeholder_kinds), "glosses": list(self.glosses)}

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """The inverse of ``to_dict`` (a checkpoint's ``model_config``)."""
        tuples = {k: tuple(values.get(k, ())) for k in ("placeholder_kinds", "glosses")}
        return cls(**{**values, **tuples})


class SignTranslationModel(nn.Module):
    """Pose features fused with the (standardised) text, fed to the backbone as ``inputs_embeds``.

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
            positions=config.pose_positions,
        )
        self.placeholder = TextPlaceholder(
            config.text_dim, config.placeholder_kinds, mask_init=mask_init, noise_scale=config.noise_scale
        )
        if config.fusion == "gate":
            self.fusion = GatedFusion(d_model, config.text_dim, config.indicator, gate_bias=config.gate_bias)
        else:
            self.fusion = TokenFusion(d_model, config.text_dim, config.indicator, config.text_tokens)
        self.backbone = backbone
        self.gloss_head = nn.Linear(d_model, len(config.glosses) + 1) if config.glosses else None  # 0: CTC blank
        self._gloss_ids = {gloss: i + 1 for i, gloss in enumerate(config.glosses)}

    def fuse(
        self,
        batch: dict,
        present: torch.Tensor | None = None,
        kind: str | None = None,
        gate_scale: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The backbone's input for a collated batch: (inputs_embeds [B, T', d], attention mask [B, T'], gate);
        T' is T divided by the pose encoder's stride (plus the text step of token fusion).

        ``present`` overrides which samples count as having text (text dropout, scenario B of the
        consistency check); ``kind`` overrides the placeholder; ``gate_scale`` [B] scales the gate."""
        pose, mask = self.pose_encoder(batch["keypoints"], batch["conf"], batch["mask"])
        return self._fuse(pose, mask, batch, present, kind, gate_scale)

    def _fuse(self, pose, mask, batch, present, kind, gate_scale):
        present = batch["has_text"] if present is None else present
        text = self.placeholder(batch["text"].to(pose.dtype), present, kind)
        if self.config.text_tokens:
            tokens = batch.get("text_tokens")
            return self.fusion(pose, mask, text, present, gate_scale, tokens, batch.get("text_token_mask"))
        return self.fusion(pose, mask, text, present, gate_scale)

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
        mask of the fused steps, and with a gloss head and the batch's ``glosses``, ``ctc_loss``: the CTC loss of
        the pose features against the glosses (per gloss, averaged over the videos that have glosses)."""
        pose, pose_mask = self.pose_encoder(batch["keypoints"], batch["conf"], batch["mask"])
        embeds, mask, gate = self._fuse(pose, pose_mask, batch, present, kind, gate_scale)
        out = self.backbone(inputs_embeds=embeds, attention_mask=mask, labels=labels)
        loss = F.cross_entropy(
            out.logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100, label_smoothing=label_smoothing
        )
        result = {"loss": loss, "logits": out.logits, "gate": gate, "mask": mask}
        if self.gloss_head is not None and "glosses" in batch:
            result["ctc_loss"] = self._ctc_loss(pose, pose_mask, batch["glosses"])
        return result

    def _ctc_loss(self, pose: torch.Tensor, mask: torch.Tensor, glosses: list[str]) -> torch.Tensor:
        ids = [[self._gloss_ids[g] for g in text.split() if g in self._gloss_ids] for text in glosses]
        lengths = torch.tensor([len(x) for x in ids], device=pose.device)
        if not lengths.any():
            return pose.sum() * 0.0  # no video of the batch has glosses: no signal, and no NaN
        targets = torch.tensor([i for x in ids for i in x], dtype=torch.long, device=pose.device)
        log_probs = F.log_softmax(self.gloss_head(pose).float(), dim=-1).transpose(0, 1)  # [T, B, C]
        per_video = F.ctc_loss(
            log_probs, targets, mask.sum(1).long(), lengths, blank=0, reduction="none", zero_infinity=True
        )
        has = lengths > 0
        return (per_video[has] / lengths[has]).mean()

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
