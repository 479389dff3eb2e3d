"""Turning batches into sentences and sentences into scores: shared by training's dev pass and `mmprep eval`."""

from __future__ import annotations

import sacrebleu
import torch

# Character-level BLEU for Chinese, as SLT papers on CSL-Daily report it.
BLEU_TOKENIZE = "zh"


def target_ids(tokenizer, translations: list[str], max_length: int) -> torch.Tensor:
    """Token ids of the references, padded with -100 (ignored by the loss)."""
    encoded = tokenizer(list(translations), max_length=max_length, truncation=True, padding=True, return_tensors="pt")
    return encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def corpus_bleu(hypotheses: list[str], references: list[str], max_order: int = 4) -> float:
    """sacrebleu corpus BLEU-``max_order`` on its 0-100 scale, Chinese tokenisation."""
    metric = sacrebleu.metrics.BLEU(tokenize=BLEU_TOKENIZE, max_ngram_order=max_order)
    return metric.corpus_score(hypotheses, [references]).score


@torch.no_grad()
def translate(model, loader, tokenizer, device, max_new_tokens: int, num_beams: int = 1, **fuse_kwargs):
    """Decode every batch of ``loader``: (ids, hypotheses, references) in loader order.

    ``fuse_kwargs`` go to the model (``present``, ``kind``, ``gate_scale``) as functions of the batch."""
    was_training = model.training
    model.eval()
    ids, hypotheses, references = [], [], []
    for batch in loader:
        batch = to_device(batch, device)
        extra = {name: make(batch) for name, make in fuse_kwargs.items()}
        out = model.generate(batch, max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False, **extra)
        hypotheses += tokenizer.batch_decode(out, skip_special_tokens=True)
        ids += list(batch["ids"])
        references += list(batch["translations"])
    model.train(was_training)
    return ids, hypotheses, references
