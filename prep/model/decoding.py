"""Turning batches into sentences: shared by training's dev pass and `mmprep eval`.

One decoding path for every inference mode: a mode gives, per batch, the fusion settings of one or more
*members* (``present``, ``kind``, ``gate_scale`` of ``SignTranslationModel.fuse``). One member decodes as the
model does; several (the ensemble) are decoded together by the backbone's own ``generate`` (greedy or beam),
their output probabilities averaged at every step by ``AverageMembers``, so all members follow the same
tokens and the first member's output is the ensemble's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import LogitsProcessor, LogitsProcessorList

Members = Callable[[dict], list[dict]]  # batch -> fuse settings of each member


def target_ids(tokenizer, translations: list[str], max_length: int) -> torch.Tensor:
    """Token ids of the references, padded with -100 (ignored by the loss)."""
    encoded = tokenizer(list(translations), max_length=max_length, truncation=True, padding=True, return_tensors="pt")
    return encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)


def hide_words(backbone, labels: torch.Tensor, rate: float, unk_id: int) -> torch.Tensor | None:
    """The decoder's teacher-forced input (the labels shifted right) with each word but the start token hidden
    as ``<unk>`` with probability ``rate``: the decoder then cannot rely on the words before to say what comes
    next and must read the input (word dropout, Bowman et al. 2016). None where ``rate`` is 0: the backbone
    shifts the labels itself. Draws from torch's generator, which training seeds and checkpoints."""
    if not rate:
        return None
    inputs = backbone.prepare_decoder_input_ids_from_labels(labels=labels)
    hide = torch.rand(inputs.shape, device=inputs.device) < rate
    hide[:, 0] = False
    return inputs.masked_fill(hide & (inputs != backbone.config.pad_token_id), unk_id)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


class AverageMembers(LogitsProcessor):
    """Replaces each row's scores by the log of the members' mean probability.

    ``generate`` runs on the members stacked along the batch (member-major: rows ``m * B .. (m + 1) * B`` are
    member ``m``, each with its beams). Greedy search passes logits, beam search log-probabilities: a softmax
    turns either into probabilities. Every member's row then holds the same scores, so every member picks the
    same tokens (and beams) at every step."""

    def __init__(self, n_members: int):
        self.n_members = n_members

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.float().softmax(-1).reshape(self.n_members, -1, scores.shape[-1])
        mean = probs.mean(0).log()
        return mean.repeat(self.n_members, 1).to(scores.dtype)


@torch.no_grad()
def generate(model, batch: dict, members: list[dict], **generate_kwargs) -> torch.Tensor:
    """Token ids [B, L] for one batch: the model's ``generate`` with one member, the averaged ensemble with more."""
    if len(members) == 1:
        return model.generate(batch, **members[0], **generate_kwargs)
    fused = [model.fuse(batch, **member) for member in members]
    stacked = fused[0]._make(None if parts[0] is None else torch.cat(parts) for parts in zip(*fused, strict=True))
    with model.logit_bias(stacked.prior):
        out = model.backbone.generate(
            inputs_embeds=stacked.embeds,
            attention_mask=stacked.mask,
            logits_processor=LogitsProcessorList([*model.processors(stacked), AverageMembers(len(members))]),
            **generate_kwargs,
        )
    return out[: len(batch["has_text"])]


@torch.no_grad()
def translate(
    model, loader, tokenizer, device, max_new_tokens: int, num_beams: int = 1, members: Members | None = None
):
    """Decode every batch of ``loader``: (ids, hypotheses, references) in loader order.

    ``members(batch)`` gives the fusion settings of each member (default: one, the model as trained)."""
    was_training = model.training
    model.eval()
    ids, hypotheses, references = [], [], []
    for batch in loader:
        batch = to_device(batch, device)
        settings = members(batch) if members else [{}]
        out = generate(model, batch, settings, max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False)
        hypotheses += tokenizer.batch_decode(out, skip_special_tokens=True)
        ids += list(batch["ids"])
        references += list(batch["translations"])
    model.train(was_training)
    return ids, hypotheses, references
