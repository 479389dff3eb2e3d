"""What a run shows about its missing-modality machinery (docs/missing-modality.md §6): the first-batch check, gradient
norms per part, the fusion's text weight with and without text, and where the mask embedding sits."""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ..model.fusion import TEXT_WEIGHT, split_placeholder
from ..model.translation import SignTranslationModel

# Parameter-name prefixes of the model's trainable parts.
PARTS = {
    "pose_encoder": ("pose_encoder.",),
    "text_projection": ("fusion.text_proj.",),
    "gate": ("fusion.gate.",),
    "no_text_embedding": ("fusion.missing",),
    "gloss_head": ("gloss_head.",),
    "text_prior": ("text_prior.",),
    "prior_coverage": ("prior_coverage",),
    "token_prior": ("token_prior.",),
    "mask_embedding": ("placeholder.mask",),
    "backbone_encoder": ("backbone.encoder.",),
    "backbone_decoder": ("backbone.decoder.",),
    "embeddings_and_head": ("backbone.shared.", "backbone.lm_head."),
}

COSINE_WARNING = 0.7  # docs/missing-modality.md §6: the mask embedding should stay close to the mean text feature


def grad_norms(model: SignTranslationModel) -> dict[str, float]:
    """L2 norm of the gradient of each part that has parameters (0.0 where no gradient arrived).

    Norms, not squares summed: no copy of a gradient (mT5-base's embedding and output layer have 192 M each)."""
    norms: dict[str, list[torch.Tensor]] = {}
    for name, param in model.named_parameters():
        part = next((p for p, prefixes in PARTS.items() if name.startswith(prefixes)), None)
        if part is None or not param.requires_grad:
            continue
        grad = torch.zeros((), device=param.device) if param.grad is None else param.grad
        norms.setdefault(part, []).append(torch.linalg.vector_norm(grad, dtype=torch.float32))
    return {part: float(torch.linalg.vector_norm(torch.stack(values))) for part, values in norms.items()}


def _text_path_gradient(model: SignTranslationModel) -> float:
    """Gradient reaching the placeholder's path: the text projections (fusion, text prior) and (gated fusion) the
    gate's text inputs."""
    d = model.backbone.config.d_model
    projections = [model.fusion.text_proj] + [p for p in (model.text_prior, model.token_prior) if p is not None]
    total = sum(float(p.weight.grad.abs().sum()) for p in projections if p.weight.grad is not None)
    if model.prior_coverage is not None and model.prior_coverage.grad is not None:
        total += float(model.prior_coverage.grad.abs())
    gate = getattr(model.fusion, "gate", None)
    if gate is not None and gate.weight.grad is not None:
        total += float(gate.weight.grad[:, d : 2 * d].abs().sum())
    return total


def first_batch_check(
    model: SignTranslationModel, batch: dict, labels: torch.Tensor, ctc_weight: float = 0.0, autocast=nullcontext
) -> dict:
    """Forward and backward of the training objective on the first batch, without text dropout and without an
    optimiser step; ``autocast()`` is the context training's forward passes run in (its precision).

    Passes when the loss and every gradient are finite and every trainable part receives gradient; with the
    zero placeholder it also shows that a batch whose text is all missing sends exactly zero gradient into
    the placeholder's path."""
    model.zero_grad(set_to_none=True)
    with autocast():
        out = model(batch, labels)
    loss = out["loss"] + ctc_weight * out["ctc_loss"] if "ctc_loss" in out else out["loss"]
    del out
    loss.backward()
    norms = grad_norms(model)
    finite = math.isfinite(loss.item()) and all(math.isfinite(n) for n in norms.values())
    report = {
        "loss": loss.item(),
        "finite": finite,
        "parts": {part: {"grad_norm": n, "receives_gradient": n > 0} for part, n in norms.items()},
        "zero_placeholder_path_gradient": None,
    }
    if split_placeholder(model.config.placeholder)[0] == "zero":
        model.zero_grad(set_to_none=True)
        absent = torch.zeros_like(batch["has_text"])
        with autocast():
            zero_loss = model(batch, labels, present=absent)["loss"]
        zero_loss.backward()
        report["zero_placeholder_path_gradient"] = _text_path_gradient(model)
    model.zero_grad(set_to_none=True)
    report["ok"] = bool(
        finite
        and all(p["receives_gradient"] for p in report["parts"].values())
        and report["zero_placeholder_path_gradient"] in (None, 0.0)
    )
    return report


def render_first_batch(report: dict) -> str:
    lines = [f"first-batch check: loss {report['loss']:.4f}, finite {report['finite']}"]
    lines += [
        f"  {part:<22} grad norm {p['grad_norm']:.3e}  {'ok' if p['receives_gradient'] else 'NO GRADIENT'}"
        for part, p in report["parts"].items()
    ]
    if report["zero_placeholder_path_gradient"] is not None:
        lines.append(
            f"  zero placeholder path  gradient {report['zero_placeholder_path_gradient']:.1e} with all text missing"
            " (must be 0)"
        )
    lines.append(f"  -> {'passed' if report['ok'] else 'FAILED'}")
    return "\n".join(lines)


def text_weight_per_sample(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each sample's text weight (the model's ``text_weight`` [B, T, d or 1]) averaged over its channels and real
    steps: [B], what ``fusion.TEXT_WEIGHT`` names."""
    return (weight.float().mean(-1) * mask).sum(1) / mask.sum(1).clamp(min=1)


def text_weight_keys(fusion: str) -> tuple[str, str]:
    """The metrics.jsonl keys of ``fusion``'s text weight: the mean of the samples with text, of those without."""
    name = TEXT_WEIGHT[fusion].name
    return f"{name}_with_text", f"{name}_without_text"


def text_weight_means(
    weight: torch.Tensor, mask: torch.Tensor, present: torch.Tensor, fusion: str
) -> dict[str, float | None]:
    """The mean text weight of the samples with text and of those without (None when there are none), under
    ``text_weight_keys(fusion)``."""
    per_sample = text_weight_per_sample(weight, mask)
    out = {}
    for key, selected in zip(text_weight_keys(fusion), (present, ~present), strict=True):
        out[key] = float(per_sample[selected].mean()) if selected.any() else None
    return out


def cosine(a: torch.Tensor | None, b: torch.Tensor | None) -> float | None:
    if a is None or b is None:
        return None
    return float(F.cosine_similarity(a.flatten().float(), b.flatten().float(), dim=0))


def typical_distance(features: torch.Tensor | None) -> float | None:
    """How far a typical training description lies from the mean one: the root-mean-square distance of the
    features [N, D] from their mean (None without features)."""
    if features is None:
        return None
    features = features.float()
    return float((features - features.mean(0)).pow(2).sum(-1).mean().sqrt())


def mask_position(
    mask: torch.Tensor, start: torch.Tensor | None, text_mean: torch.Tensor | None, spread: float | None
) -> dict[str, float | None]:
    """Where the mask embedding is (docs/missing-modality.md#6-diagnostics): its cosine to its initial value and
    to the mean training description, and how far it moved from its start and lies from that mean, in typical
    distances of a description from the mean (``spread``, from ``typical_distance``): 1 is as far as a typical
    description. Pooled features sit close to their mean in angle (cosine ~0.9), so the cosines stay near 1
    where the distances show the movement."""

    def distance(other: torch.Tensor | None) -> float | None:
        if other is None or not spread:
            return None
        return float((mask.flatten().float() - other.flatten().float()).norm()) / spread

    return {
        "mask_cos_init": cosine(mask, start),
        "mask_cos_text_mean": cosine(mask, text_mean),
        "mask_moved": distance(start),
        "mask_distance_text_mean": distance(text_mean),
    }
