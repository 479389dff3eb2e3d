"""Training strategies for missing text (docs/missing-modality.md §2): text dropout and the placeholder schedule."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .fusion import BASE_KINDS

DROPOUT_MODES = ("none", "fixed", "adaptive")


@dataclass
class TextDropout:
    """Treat a sample that has text as missing with probability ``p`` in training (never in eval).

    - ``mode="fixed"``: ``p = rate`` (strategy 2; guidance 0.2 above 20 % with-text, 0.3 for 10-20 %,
      0.4 below 10 %).
    - ``mode="adaptive"``: ``p = base * (1 + lam * missing_ratio)`` with ``missing_ratio`` the share of the
      batch without text (strategy 3). With stratified batches that share is the same in every batch, so
      ``p`` is nearly constant; the effective ``p`` is logged. Note: the source's worked examples (50 % -> 0.30,
      80 % -> 0.36) correspond to ``lam = 1``; its stated default ``lam = 2`` gives 0.40 and 0.52.
    - ``unit="sample"`` draws a coin per sample (default); ``unit="batch"`` one coin for the whole batch, as
      in the source's sketch.
    """

    mode: str = "none"
    rate: float = 0.3
    base: float = 0.2
    lam: float = 2.0
    unit: str = "sample"

    def __post_init__(self):
        if self.mode not in DROPOUT_MODES:
            raise ValueError(f"text dropout mode must be one of {DROPOUT_MODES}, not {self.mode!r}")
        if self.unit not in ("sample", "batch"):
            raise ValueError(f"text dropout unit must be 'sample' or 'batch', not {self.unit!r}")

    @property
    def drops_all(self) -> bool:
        """Every description is dropped (``--text-dropout 1.0``): a pose-only model, which never sees text."""
        return self.mode == "fixed" and self.rate >= 1.0

    def probability(self, has_text: torch.Tensor) -> float:
        if self.mode == "none":
            return 0.0
        if self.mode == "fixed":
            return self.rate
        missing_ratio = 1.0 - has_text.float().mean().item()
        return min(1.0, self.base * (1.0 + self.lam * missing_ratio))

    def __call__(self, has_text: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, float]:
        """Which samples keep their text, and the probability used. Draws from ``generator`` (on the CPU)."""
        p = self.probability(has_text)
        if p == 0.0:
            return has_text, p
        n = 1 if self.unit == "batch" else has_text.shape[0]
        drop = (torch.rand(n, generator=generator) < p).to(has_text.device).expand(has_text.shape[0])
        return has_text & ~drop, p


@dataclass
class PlaceholderSchedule:
    """Which placeholder to use when (strategy 4), by epoch boundaries.

    Written ``"1:zero,11:mask,21:alternate"``: from epoch 1 the zero vector, from 11 the mask embedding, from 21
    the two alternating batch by batch (zero on even steps, mask on odd). Epochs count from 1.
    """

    stages: tuple[tuple[int, str], ...]

    @classmethod
    def parse(cls, text: str) -> PlaceholderSchedule:
        stages = []
        for part in text.split(","):
            epoch, sep, kind = part.strip().partition(":")
            if not sep or not epoch.strip().isdigit() or kind not in (*BASE_KINDS, "alternate"):
                raise ValueError(
                    f"bad schedule stage {part!r}: write EPOCH:KIND with KIND one of "
                    f"{', '.join((*BASE_KINDS, 'alternate'))}, e.g. 1:zero,11:mask,21:alternate"
                )
            stages.append((int(epoch), kind))
        stages.sort()
        if stages[0][0] != 1:
            raise ValueError(f"a schedule must start at epoch 1: {text!r}")
        return cls(tuple(stages))

    @property
    def kinds(self) -> tuple[str, ...]:
        """The base placeholders the model needs to hold."""
        kinds = []
        for _, kind in self.stages:
            kinds.extend(("zero", "mask") if kind == "alternate" else (kind,))
        return tuple(dict.fromkeys(kinds))

    def kind(self, epoch: int, step: int) -> str:
        current = self.stages[0][1]
        for start, kind in self.stages:
            if epoch >= start:
                current = kind
        if current == "alternate":
            return "zero" if step % 2 == 0 else "mask"
        return current

    def __str__(self) -> str:
        return ",".join(f"{epoch}:{kind}" for epoch, kind in self.stages)
