"""The sign-language translation model: pose encoder, text placeholder, gated fusion and an mT5 backbone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LogitsProcessor, LogitsProcessorList

from .. import schemas
from .fusion import GatedFusion, TextPlaceholder, TokenFusion, split_placeholder
from .pose_encoder import PoseEncoder


def _training_default(option: str):
    """A field whose default is the training option's (schemas/train-config.schema.json): a ModelConfig built with
    defaults is the model a new `mmprep train` run builds. A saved one never takes them: it records every field,
    and prep/train/migrations.py gives an older file the values of its time."""
    return field(default_factory=lambda: schemas.load("train-config")["properties"][option]["default"])


@dataclass
class ModelConfig:
    """Everything needed to rebuild the model around a backbone (saved in every checkpoint)."""

    n_points: int
    text_dim: int
    placeholder: str = _training_default("placeholder")
    # Base placeholders the model must be able to use (an alternation schedule may need zero and mask).
    placeholder_kinds: tuple[str, ...] = ()
    fusion: str = _training_default("fusion")
    # Token fusion: the description's per-token features as more input steps. Training's default (null) decides by
    # the store; without a store, none.
    text_tokens: bool = False
    text_prior: bool = _training_default("text_prior")  # a word prior on the output logits
    prior_coverage: bool = _training_default("prior_coverage")  # with the prior: a word already said counts less
    prior_tokens: bool = _training_default("prior_tokens")  # with the prior and text_tokens: also from the tokens
    gate_bias: float = _training_default("gate_bias")
    noise_scale: float = _training_default("noise_scale")
    pose_layers: int = _training_default("pose_layers")
    pose_kernel: int = _training_default("pose_kernel")
    pose_stride: int = _training_default("pose_stride")
    pose_velocity: bool = _training_default("pose_velocity")
    pose_positions: bool = _training_default("pose_positions")
    dropout: float = _training_default("dropout")
    # The training split's gloss vocabulary: with one, a CTC head on the pose features learns to recognise the
    # glosses (an auxiliary loss, ``ctc_weight``); empty: no head.
    glosses: tuple[str, ...] = ()
    gloss_input: bool = _training_default("gloss_input")  # the CTC head's reading of each pose step goes in too

    def __post_init__(self):
        if self.text_tokens and self.fusion != "token":
            raise ValueError("per-token text features (text_tokens) need token fusion (--fusion token)")
        for option in ("prior_coverage", "prior_tokens"):
            if getattr(self, option) and not self.text_prior:
                raise ValueError(f"{option} needs the text prior (text_prior)")
        if self.gloss_input and not self.glosses:
            raise ValueError("gloss_input needs the gloss head (glosses in the store and a CTC weight above 0)")
        if self.prior_tokens and not self.text_tokens:
            raise ValueError("prior_tokens needs the per-token text features (text_tokens)")
        base, _ = split_placeholder(self.placeholder)
        self.placeholder_kinds = tuple(dict.fromkeys((base, *self.placeholder_kinds)))

    @property
    def indicator(self) -> bool:
        return split_placeholder(self.placeholder)[1]

    def to_dict(self) -> dict:
        return {**asdict(self), "placeholder_kinds": list(self.placeholder_kinds), "glosses": list(self.glosses)}

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """The inverse of ``to_dict``: every field, no default taken (a saved one is read through
        ``prep.train.migrations.model``, which gives an older file the values of its time). ValueError naming
        what is missing."""
        missing = [f.name for f in fields(cls) if f.name not in values]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        tuples = {k: tuple(values[k]) for k in ("placeholder_kinds", "glosses")}
        return cls(**{**values, **tuples})


class Fused(NamedTuple):
    """What the model gives the backbone for a batch."""

    embeds: torch.Tensor  # [B, T', d] the input steps
    mask: torch.Tensor  # [B, T'] which steps are real
    text_weight: torch.Tensor  # [B, T', d or 1] how much text each step lets in (fusion.TEXT_WEIGHT)
    prior: torch.Tensor | None  # [B, V] the text prior's logits, or None without one
    coverage: torch.Tensor | None  # [B] what each token already said takes off its own score, or None


class CoveragePenalty(LogitsProcessor):
    """Lowers each token's score by ``coverage`` (one value per row of the batch, repeated for the beams) for
    every time the token has been said already; the result is renormalised to log-probabilities, so in beam
    search (which passes log-probabilities) it equals log_softmax(logits - penalty), as in training."""

    def __init__(self, coverage: torch.Tensor):
        self.coverage = coverage

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        said = input_ids[:, 1:]  # position 0 is the decoder's start token
        coverage = self.coverage.to(scores.dtype).repeat_interleave(scores.shape[0] // self.coverage.shape[0], 0)
        penalty = coverage[:, None].expand_as(said)
        return scores.scatter_add(1, said, -penalty).log_softmax(-1)


class SignTranslationModel(nn.Module):
    """Pose features fused with the (standardised) text, fed to the backbone as ``inputs_embeds``.

    The backbone is any Hugging Face encoder-decoder taking ``inputs_embeds`` (mT5 here).

    With ``text_prior``, the text vector also reaches the output directly: a learned projection to the
    backbone's width, then the backbone's own output layer, gives a bias over the vocabulary that is added to
    the logits of every decoding step. It is a bag-of-words path: the words a description names can be made
    likelier wherever the poses leave the choice open (two words with one sign). The projection starts at zero
    (the model starts as without the prior), a zero placeholder gives no prior, and ``gate_scale`` scales it
    like the text's way in.

    With ``prior_coverage`` (which needs the prior), a video's description also counts down: at every step each
    token already said loses a learned amount (zero at the start) of its score, once per time said. A bag of
    words cannot say "one of each": where a sentence has both words of a pair, the prior makes both likely at
    both places, and the first one said should no longer be favoured at the second. Only videos with text get
    it (a placeholder names nothing), scaled by ``gate_scale`` like the prior.

    With ``prior_tokens`` (which needs the prior and the per-token features) the prior also reads the sum of the
    description's standardised token features, through its own projection (zero at the start). A mean says
    which words a description names; a sum also says how often, which the coverage can count down.
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
        self.text_prior = nn.Linear(config.text_dim, d_model, bias=False) if config.text_prior else None
        if self.text_prior is not None:
            nn.init.zeros_(self.text_prior.weight)
        self.prior_coverage = nn.Parameter(torch.zeros(())) if config.prior_coverage else None
        self.token_prior = nn.Linear(config.text_dim, d_model, bias=False) if config.prior_tokens else None
        if self.token_prior is not None:
            nn.init.zeros_(self.token_prior.weight)
        self.gloss_head = nn.Linear(d_model, len(config.glosses) + 1) if config.glosses else None  # 0: CTC blank
        self._gloss_ids = {gloss: i + 1 for i, gloss in enumerate(config.glosses)}
        self.gloss_input = nn.Linear(len(config.glosses) + 1, d_model, bias=False) if config.gloss_input else None
        if self.gloss_input is not None:
            nn.init.zeros_(self.gloss_input.weight)  # a new model is exactly the model without it

    def fuse(
        self,
        batch: dict,
        present: torch.Tensor | None = None,
        kind: str | None = None,
        gate_scale: torch.Tensor | None = None,
    ) -> Fused:
        """The backbone's input for a collated batch; T' is T divided by the pose encoder's stride (plus the
        text steps of token fusion).

        ``present`` overrides which samples count as having text (text dropout, scenario B of the
        consistency check); ``kind`` overrides the placeholder; ``gate_scale`` [B] scales the gate."""
        pose, mask = self.pose_encoder(batch["keypoints"], batch["conf"], batch["mask"])
        return self._fuse(self._read_glosses(pose), mask, batch, present, kind, gate_scale)

    def _read_glosses(self, pose: torch.Tensor) -> torch.Tensor:
        """With ``gloss_input``, each pose step plus an embedding of the glosses the CTC head reads there (their
        probabilities, blank included): a discrete reading of the signs, in which a sign signed twice is two
        runs of its gloss with a blank between."""
        if self.gloss_input is None:
            return pose
        return pose + self.gloss_input(F.softmax(self.gloss_head(pose), dim=-1))

    def _fuse(self, pose, mask, batch, present, kind, gate_scale) -> Fused:
        present = batch["has_text"] if present is None else present
        text = self.placeholder(batch["text"].to(pose.dtype), present, kind)
        if self.config.text_tokens:
            tokens = batch.get("text_tokens")
            fused = self.fusion(pose, mask, text, present, gate_scale, tokens, batch.get("text_token_mask"))
        else:
            fused = self.fusion(pose, mask, text, present, gate_scale)
        prior = coverage = None
        scale = torch.ones_like(present, dtype=text.dtype) if gate_scale is None else gate_scale.to(text.dtype)
        if self.text_prior is not None:
            words = self.text_prior(text)
            if self.token_prior is not None and batch.get("text_tokens") is not None:
                keep = (batch["text_token_mask"] & present[:, None]).to(text.dtype)
                summed = (self.fusion.standardize_tokens(batch["text_tokens"].to(text.dtype)) * keep[..., None]).sum(1)
                words = words + self.token_prior(summed)
            prior = F.linear(words, self.backbone.get_output_embeddings().weight) * scale[:, None]
        if self.prior_coverage is not None:
            coverage = self.prior_coverage * present.to(text.dtype) * scale
        return Fused(*fused, prior, coverage)

    @staticmethod
    def cover(logits: torch.Tensor, labels: torch.Tensor, coverage: torch.Tensor | None) -> torch.Tensor:
        """Teacher-forced logits [B, L, V] with ``CoveragePenalty``: at step t, each token of ``labels`` before t
        takes ``coverage`` off its own score."""
        if coverage is None:
            return logits
        steps = labels.shape[1]
        said = labels.clamp(min=0)[:, None, :].expand(-1, steps, -1)  # [B, t, s]: the token said at s
        before = torch.ones(steps, steps, dtype=logits.dtype, device=logits.device).tril(-1)  # s < t
        return logits.scatter_add(2, said, -coverage.to(logits.dtype)[:, None, None] * before)

    def processors(self, fused: Fused) -> LogitsProcessorList:
        """The logits processors ``generate`` needs for ``fused`` (the coverage penalty, where there is one)."""
        return LogitsProcessorList([] if fused.coverage is None else [CoveragePenalty(fused.coverage)])

    @contextmanager
    def logit_bias(self, bias: torch.Tensor | None) -> Iterator[None]:
        """Inside the block, the backbone's output logits get ``bias`` [N, V] added (the text prior), for
        teacher forcing and ``generate`` alike. ``generate`` repeats each input row for its beams, one after
        the other, and so is each row of ``bias`` repeated."""
        if bias is None:
            yield
            return

        def add(module, inputs, logits):
            return logits + bias.to(logits.dtype).repeat_interleave(logits.shape[0] // bias.shape[0], 0)[:, None]

        handle = self.backbone.get_output_embeddings().register_forward_hook(add)
        try:
            yield
        finally:
            handle.remove()

    def forward(
        self,
        batch: dict,
        labels: torch.Tensor,
        present: torch.Tensor | None = None,
        kind: str | None = None,
        gate_scale: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        decoder_input_ids: torch.Tensor | None = None,
    ) -> dict:
        """Teacher-forced pass. ``labels`` [B, L] with -100 on padding; ``decoder_input_ids``: the decoder's input
        where it is not the labels shifted right (``decoding.hide_words``). Returns loss, logits, the text weight and the
        mask of the fused steps, and with a gloss head and the batch's ``glosses``, ``ctc_loss``: the CTC loss of
        the pose features against the glosses (per gloss, averaged over the videos that have glosses)."""
        pose, pose_mask = self.pose_encoder(batch["keypoints"], batch["conf"], batch["mask"])
        fused = self._fuse(self._read_glosses(pose), pose_mask, batch, present, kind, gate_scale)
        if decoder_input_ids is None:
            decoder_input_ids = self.backbone.prepare_decoder_input_ids_from_labels(labels=labels)
        with self.logit_bias(fused.prior):
            # Not labels=: the backbone would compute a cross-entropy of its own over the whole vocabulary (a
            # log-softmax of [B, L, V] per step, 250,112 wide for mT5), which the loss below replaces.
            out = self.backbone(
                inputs_embeds=fused.embeds, attention_mask=fused.mask, decoder_input_ids=decoder_input_ids
            )
        logits = self.cover(out.logits, labels, fused.coverage)
        loss = F.cross_entropy(
            logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100, label_smoothing=label_smoothing
        )
        result = {"loss": loss, "logits": logits, "text_weight": fused.text_weight, "mask": fused.mask}
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
        fused = self.fuse(batch, present, kind, gate_scale)
        with self.logit_bias(fused.prior):
            return self.backbone.generate(
                inputs_embeds=fused.embeds,
                attention_mask=fused.mask,
                logits_processor=self.processors(fused),
                **generate_kwargs,
            )
