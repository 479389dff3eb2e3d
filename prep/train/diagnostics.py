"""What a run shows about its missing-modality machinery (docs/missing-modality.md §6): the first-batch check, gradient
norms per part, gate statistics with and without text, and where the mask embedding sits."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..model.fusion import split_placeholder
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
    """L2 norm of the gradient of each part that has parameters (0.0 where no gradient arrived)."""
    squares: dict[str, float] = {}
    for name, param in model.named_parameters():
        part = next((p for p, prefixes in PARTS.items() if name.startswith(prefixes)), None)
        if part is None or not param.requires_grad:
            continue
        grad = 0.0 if param.grad is None else float(param.grad.float().pow(2).sum())
        squares[part] = squares.get(part, 0.0) + grad
    return {part: math.sqrt(total) for part, total in squares.items()}


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


def first_batch_check(model: SignTranslationModel, batch: dict, labels: torch.Tensor, ctc_weight: float = 0.0) -> dict:
    """Forward and backward of the training objective on the first batch, without text dropout and without an
    optimiser step.

    Passes when the loss and every gradient are finite and every trainable part receives gradient; with the
    zero placeholder it also shows that a batch whose text is all missing sends exactly zero gradient into
    the placeholder's path."""
    model.zero_grad(set_to_none=True)
    out = model(batch, labels)
    loss = out["loss"] + ctc_weight * out["ctc_loss"] if "ctc_loss" in out else out["loss"]
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
        model(batch, labels, present=absent)["loss"].backward()
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


def gate_per_sample(gate: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each sample's gate [B, T, d] averaged over its channels and real frames: [B]."""
    return (gate.float().mean(-1) * mask).sum(1) / mask.sum(1).clamp(min=1)


def gate_means(gate: torch.Tensor, mask: torch.Tensor, present: torch.Tensor) -> dict[str, float | None]:
    """Mean gate over real frames of the samples with text and of those without (None when there are none)."""
    per_sample = gate_per_sample(gate, mask)
    out = {}
    for key, selected in (("gate_with_text", present), ("gate_without_text", ~present)):
        out[key] = float(per_sample[selected].mean()) if selected.any() else None
    return out


def cosine(a: torch.Tensor | None, b: torch.Tensor | None) -> float | None:
    if a is None or b is None:
        return None
    return float(F.cosine_similarity(a.flatten().float(), b.flatten().float(), dim=0))
