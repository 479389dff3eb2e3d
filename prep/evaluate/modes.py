"""Inference modes (docs/missing-modality.md §3) as fusion settings for the two scenarios of the consistency check.

Scenario A gives each video its real description where it has one; scenario B gives every video the
placeholder, as a deployment without descriptions would. A mode turns a batch and a scenario into the settings
of one or more *members* (``present``, ``kind``, ``gate_scale`` of ``SignTranslationModel.fuse``); with several
members their output probabilities are averaged (``prep.model.decoding.generate``, and under teacher forcing
``prep.evaluate.metrics.mixture_log_probs``).

==================  ======================================================================================
mode                members
==================  ======================================================================================
``missing-aware``   the trained gate with the indicator, unchanged (recommended by the source)
``conservative``    the gate times ``alpha`` everywhere, with and without text (0.4-0.6 balanced)
``adaptive``        full gate with text; the gate times ``factor`` without (``factor=0``: pose only)
``ensemble``        three members averaged: the scenario's text (placeholder where absent), the zero
                    placeholder and the mask placeholder, all three with the indicator saying "no text"
                    except the first where text is present
==================  ======================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import schemas
from ..errors import InputError

MODES = schemas.enum("eval-report", "properties", "mode")  # missing-aware, conservative, adaptive, ensemble
SCENARIOS = ("A", "B")


@dataclass(frozen=True)
class InferenceMode:
    name: str = "missing-aware"
    alpha: float | None = None  # conservative
    factor: float | None = None  # adaptive

    def __post_init__(self):
        if self.name not in MODES:
            raise InputError(f"unknown inference mode {self.name!r}; choose one of {', '.join(MODES)}")
        needs = {"conservative": "alpha", "adaptive": "factor"}.get(self.name)
        for option in ("alpha", "factor"):
            value = getattr(self, option)
            if option == needs and value is None:
                raise InputError(f"--mode {self.name} needs --{option} (a number in [0, 1])")
            if option != needs and value is not None:
                raise InputError(f"--{option} belongs to --mode {'conservative' if option == 'alpha' else 'adaptive'}")
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputError(f"--{option} must be in [0, 1], not {value}")

    @property
    def tag(self) -> str:
        """A file-name-safe label: ``missing-aware``, ``conservative-a0.5``, ``adaptive-f0``, ``ensemble``."""
        if self.name == "conservative":
            return f"conservative-a{self.alpha:g}"
        if self.name == "adaptive":
            return f"adaptive-f{self.factor:g}"
        return self.name

    def members(self, batch: dict, scenario: str) -> list[dict]:
        """The fusion settings of each member for ``batch`` in scenario ``"A"`` or ``"B"``."""
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario must be 'A' or 'B', not {scenario!r}")
        has_text = batch["has_text"]
        absent = torch.zeros_like(has_text)
        present = has_text if scenario == "A" else absent
        if self.name == "conservative":
            return [{"present": present, "gate_scale": torch.full(has_text.shape, self.alpha, device=has_text.device)}]
        if self.name == "adaptive":
            scale = torch.where(present, 1.0, self.factor).to(has_text.device)
            return [{"present": present, "gate_scale": scale}]
        if self.name == "ensemble":
            return [{"present": present}, {"present": absent, "kind": "zero"}, {"present": absent, "kind": "mask"}]
        return [{"present": present}]
