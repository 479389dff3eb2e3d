"""The model card's description of the model: the settings of the fusion it has, not of the other one."""

from __future__ import annotations

from prep.inference.model_card import _fusion, _how_text_enters
from prep.model.translation import ModelConfig


def test_the_card_names_the_settings_of_the_fusion_in_use():
    gated = ModelConfig(n_points=4, text_dim=8, fusion="gate", gate_bias=-3.0, text_prior=False, prior_coverage=False)
    assert _fusion(gated).startswith("`gate`") and "initial bias -3" in _fusion(gated)
    assert "has-text indicator goes into the gate" in _fusion(gated) and "no text prior" in _fusion(gated)
    assert _how_text_enters(gated) == "through a gate on the pose features"
    token = ModelConfig(n_points=4, text_dim=8, placeholder="zero", text_prior=True)
    assert _fusion(token).startswith("`token`") and "bias" not in _fusion(token) and "gate" not in _fusion(token)
    assert "no per-token features" in _fusion(token) and "no-text embedding" not in _fusion(token)
    assert _how_text_enters(token) == "as more input steps before the pose steps and as a word prior on the output"
