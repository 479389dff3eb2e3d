"""Small batches and models for the module-level tests of prep/model."""

from __future__ import annotations

import torch
from train_helpers import tiny_backbone

from prep.model.translation import ModelConfig, SignTranslationModel

P, DT = 7, 12  # points, text feature width


def make_batch(b=4, t=9, has_text=(True, False, True, False), seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([t, t - 2, t - 4, t][:b])
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    present = torch.tensor(has_text[:b])
    text = torch.randn(b, DT, generator=g) * present[:, None]
    return {"keypoints": torch.randn(b, t, P, 3, generator=g) * mask[..., None, None],
            "conf": torch.ones(b, t, P) * mask[..., None], "mask": mask, "lengths": lengths,
            "text": text, "has_text": present}  # fmt: skip


def labels(b=4) -> torch.Tensor:
    return torch.tensor([[5, 6, 7, 1], [8, 9, 1, -100], [5, 5, 1, -100], [7, 1, -100, -100]])[:b]


def model_for(placeholder: str, mask_init=None, **kw) -> SignTranslationModel:
    torch.manual_seed(1)
    mask_init = torch.full((DT,), 0.5) if mask_init is None else mask_init
    return SignTranslationModel(tiny_backbone(), ModelConfig(P, DT, placeholder=placeholder, **kw), mask_init)
