"""What `mmprep train` minimises: the loss of one batch, once both dropouts have been applied to it."""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from .diagnostics import text_weight_means


def batch_loss(model, batch: dict, labels: torch.Tensor, *, present: torch.Tensor, decoder_inputs: torch.Tensor,
               kind: str | None, config: dict, mask_init: torch.Tensor | None,
               autocast: AbstractContextManager) -> tuple[torch.Tensor, dict]:  # fmt: skip
    """(the loss of ``batch``, its parts) for the model in training mode (DDP-wrapped or not).

    The loss is the model's label-smoothed cross-entropy of ``labels`` given ``decoder_inputs`` (the labels
    with word dropout's holes), plus ``ctc_weight`` × the gloss head's CTC loss where the model has one, plus
    ``mask_pull`` × the squared distance of the mask embedding from ``mask_init`` where it has one. ``present``
    says whose text the model sees (after text dropout), ``kind`` is the placeholder of this step (a schedule's,
    or None for the model's own). Only the forward pass runs under ``autocast``. The parts: ``ctc_loss`` (a
    float, 0.0 without a gloss head) and ``text_weight`` (the fusion's text weight with and without text,
    ``diagnostics.text_weight_means``).
    """
    module = getattr(model, "module", model)
    with autocast:
        out = model(batch, labels, present=present, kind=kind, label_smoothing=config["label_smoothing"],
                    decoder_input_ids=decoder_inputs)  # fmt: skip
    del out["logits"]  # [B, L, vocabulary]: not kept through the backward pass
    loss, ctc = out["loss"], 0.0
    if "ctc_loss" in out:
        loss = loss + config["ctc_weight"] * out["ctc_loss"]
        ctc = out["ctc_loss"].item()
    if config["mask_pull"] and module.placeholder.mask is not None:
        pull = (module.placeholder.mask[0] - mask_init.to(loss.device)).pow(2).sum()
        loss = loss + config["mask_pull"] * pull
    weight = text_weight_means(out["text_weight"].detach(), out["mask"], present, config["fusion"])
    return loss, {"ctc_loss": ctc, "text_weight": weight}
