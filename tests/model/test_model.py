"""The missing-modality mechanisms at the module level (docs/missing-modality.md §1-3)."""

from __future__ import annotations

import pytest
import torch
from model_helpers import DT, P, labels, make_batch, model_for

from prep.model import decoding
from prep.model.fusion import GatedFusion, TextPlaceholder, TokenFusion
from prep.model.pose_encoder import PoseEncoder
from prep.model.strategies import PlaceholderSchedule, TextDropout
from prep.model.translation import ModelConfig


@pytest.mark.parametrize("fusion", ["token", "gate"])
def test_zero_placeholder_path_receives_no_gradient(fusion):
    model = model_for("zero", fusion=fusion)
    model.placeholder.set_statistics(torch.randn(50, DT) + 3.0)  # the zero placeholder is the standardised zero
    batch = make_batch(has_text=(False, False, False, False))
    model(batch, labels())["loss"].backward()
    assert model.placeholder.mask is None  # nothing to learn in the placeholder itself
    assert torch.count_nonzero(model.fusion.text_proj.weight.grad) == 0
    if fusion == "gate":
        d = model.backbone.config.d_model
        assert torch.count_nonzero(model.fusion.gate.weight.grad[:, d : 2 * d]) == 0
    assert model.pose_encoder.frame[0].weight.grad.abs().sum() > 0


def test_raw_zero_is_the_encoders_zero_and_zero_is_the_mean_description():
    placeholder = TextPlaceholder(DT, ("raw-zero", "zero"))
    features = torch.randn(50, DT, generator=torch.Generator().manual_seed(0)) + 3.0  # a large common component
    placeholder.set_statistics(features)
    absent, present = torch.zeros(2, dtype=torch.bool), torch.ones(2, dtype=torch.bool)
    anything = torch.randn(2, DT)
    raw_zero = placeholder(anything, absent, "raw-zero")
    torch.testing.assert_close(raw_zero, placeholder(torch.zeros(2, DT), present))  # a real all-zero feature
    mean_description = placeholder(features.mean(0).expand(2, DT), present)
    torch.testing.assert_close(placeholder(anything, absent, "zero"), mean_description, atol=1e-5, rtol=0)
    # The design's zero vector lies farther from the mean than any description does.
    assert raw_zero[0].norm() > placeholder.standardize(features).norm(dim=-1).max()


@pytest.mark.parametrize("fusion", ["token", "gate"])
def test_raw_zero_placeholder_sends_gradient_into_the_text_path(fusion):
    model = model_for("raw-zero", fusion=fusion)
    model.placeholder.set_statistics(torch.randn(50, DT) + 3.0)
    model(make_batch(has_text=(False, False, False, False)), labels())["loss"].backward()
    assert model.placeholder.mask is None
    assert model.fusion.text_proj.weight.grad.abs().sum() > 0  # unlike zero's: a fixed point off the mean


@pytest.mark.parametrize("fusion", ["token", "gate"])
def test_mask_embedding_gets_gradient_and_moves(fusion):
    model = model_for("mask", fusion=fusion)
    start = model.placeholder.mask.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):  # the gate starts with zero weights; after a step the mask's gradient is non-zero
        optimizer.zero_grad()
        model(make_batch(), labels())["loss"].backward()
        optimizer.step()
    assert model.placeholder.mask.grad.abs().sum() > 0
    assert not torch.allclose(model.placeholder.mask, start)


def test_mask_starts_at_mask_init():
    init = torch.arange(DT, dtype=torch.float32)
    model = model_for("mask+indicator", mask_init=init)
    torch.testing.assert_close(model.placeholder.mask.detach()[0], init)


MASK5 = torch.ones(2, 5)


@pytest.mark.parametrize("indicator", [True, False])
def test_indicator_changes_the_gate_only_when_enabled(indicator):
    fusion = GatedFusion(d_model=8, text_dim=8, indicator=indicator)
    torch.nn.init.normal_(fusion.gate.weight)
    pose, text = torch.randn(2, 5, 8), torch.randn(1, 8).expand(2, 8)
    _, _, gate = fusion(pose[:1].expand(2, -1, -1), MASK5, text, torch.tensor([True, False]))
    differs = (gate[0] - gate[1]).abs().max().item() > 1e-3
    assert differs is indicator


def test_gate_starts_nearly_closed_and_scales():
    fusion = GatedFusion(d_model=8, text_dim=8, indicator=True)
    pose, text = torch.randn(2, 5, 8), torch.randn(2, 8)
    _, mask, gate = fusion(pose, MASK5, text, torch.tensor([True, True]))
    assert torch.allclose(gate, torch.sigmoid(torch.tensor(-4.0))) and torch.equal(mask, MASK5)
    _, _, scaled = fusion(pose, MASK5, text, torch.tensor([True, True]), gate_scale=torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(scaled[0], gate[0] * 0.5)
    assert torch.count_nonzero(scaled[1]) == 0
    fused_off, _, _ = fusion(pose, MASK5, text, torch.tensor([True, True]), gate_scale=torch.zeros(2))
    torch.testing.assert_close(fused_off, pose)  # a zero gate is the pose-only model


def test_token_fusion_puts_the_text_first_and_marks_missing_text():
    torch.manual_seed(0)
    fusion = TokenFusion(d_model=8, text_dim=6, indicator=True)
    torch.nn.init.normal_(fusion.missing)
    pose, text = torch.randn(2, 5, 8), torch.randn(2, 6)
    mask = torch.tensor([[1.0] * 5, [1.0] * 3 + [0.0] * 2])
    fused, fused_mask, share = fusion(pose, mask, text, torch.tensor([True, False]))
    assert fused.shape == (2, 6, 8) and torch.equal(fused[:, 1:], pose)
    assert torch.equal(fused_mask[:, 0], torch.ones(2)) and torch.equal(fused_mask[:, 1:], mask)
    projected = fusion.text_proj(text)
    torch.testing.assert_close(fused[0, 0], projected[0])  # with text: the projection alone
    torch.testing.assert_close(fused[1, 0], projected[1] + fusion.missing)  # without: the "no text" embedding added
    # the text weight: the text step's share of the input norm, |text step| / (|text step| + mean |pose step|)
    pose_norm = torch.stack([pose[0].norm(dim=-1).mean(), pose[1, :3].norm(dim=-1).mean()])
    expected = fused[:, 0].norm(dim=-1) / (fused[:, 0].norm(dim=-1) + pose_norm)
    torch.testing.assert_close(share, expected[:, None, None].expand(-1, 6, 1))
    halved, _, share_half = fusion(pose, mask, text, torch.tensor([True, False]), gate_scale=torch.full((2,), 0.5))
    torch.testing.assert_close(halved[:, 0], 0.5 * fused[:, 0])  # of the step as it enters, after the mode's factor
    torch.testing.assert_close(share_half[:, 0, 0], halved[:, 0].norm(dim=-1) / (halved[:, 0].norm(dim=-1) + pose_norm))
    silenced, _, share_off = fusion(pose, mask, text, torch.tensor([True, False]), gate_scale=torch.zeros(2))
    assert torch.count_nonzero(silenced[:, 0]) == 0 and torch.count_nonzero(share_off) == 0


def test_text_is_standardised_with_the_training_statistics():
    features = torch.randn(200, DT) * 0.3 + torch.linspace(1, 5, DT)  # a large common component
    placeholder = TextPlaceholder(DT, ("mask",), mask_init=features.mean(0))
    placeholder.set_statistics(features)
    standardised = placeholder(features, torch.ones(200, dtype=torch.bool))
    torch.testing.assert_close(standardised.mean(0), torch.zeros(DT), atol=1e-5, rtol=0)
    assert standardised.pow(2).mean().sqrt().item() == pytest.approx(1.0, rel=1e-4)
    missing = placeholder(features[:2], torch.zeros(2, dtype=torch.bool))
    torch.testing.assert_close(missing, torch.zeros(2, DT), atol=1e-5, rtol=0)  # the mask starts at the mean
    restored = TextPlaceholder(DT, ("mask",), mask_init=torch.zeros(DT))
    restored.load_state_dict(placeholder.state_dict())  # the statistics travel with the weights
    torch.testing.assert_close(restored(features, torch.ones(200, dtype=torch.bool)), standardised)


def test_noise_placeholder_is_fresh_in_training_and_fixed_in_eval():
    placeholder = TextPlaceholder(DT, ("noise",))
    text, absent = torch.zeros(3, DT), torch.zeros(3, dtype=torch.bool)
    assert not torch.equal(placeholder(text, absent), placeholder(text, absent))
    placeholder.eval()
    first = placeholder(text, absent)
    assert torch.equal(first, placeholder(text, absent)) and torch.equal(first[0], first[2])
    assert 0.02 < first.std().item() < 0.5  # noise_scale 0.1


@pytest.mark.parametrize("stride", [1, 3])
def test_pose_encoder_ignores_padding(stride):
    encoder = PoseEncoder(P, 16, stride=stride).eval()
    batch = make_batch(b=2, t=9)  # the second video has 7 frames
    steps = -(-7 // stride)
    alone = {k: v[1:2, :7] for k, v in batch.items() if k in ("keypoints", "conf", "mask")}
    together, mask = encoder(batch["keypoints"], batch["conf"], batch["mask"])
    assert mask[1].sum() == steps and together.shape[1] == -(-9 // stride)
    single, _ = encoder(alone["keypoints"], alone["conf"], alone["mask"])
    torch.testing.assert_close(single[0], together[1, :steps])


def test_fixed_dropout_rate_matches_p_empirically():
    dropout = TextDropout(mode="fixed", rate=0.3)
    generator = torch.Generator().manual_seed(0)
    has_text = torch.ones(20_000, dtype=torch.bool)
    kept, p = dropout(has_text, generator)
    assert p == 0.3 and abs((~kept).float().mean().item() - 0.3) < 0.015
    missing = torch.zeros(10, dtype=torch.bool)
    assert not dropout(missing, generator)[0].any()  # never turns missing text into text


def test_batch_coin_drops_all_or_nothing():
    dropout = TextDropout(mode="fixed", rate=0.5, unit="batch")
    generator = torch.Generator().manual_seed(0)
    outcomes = [dropout(torch.ones(8, dtype=torch.bool), generator)[0] for _ in range(200)]
    assert all(o.all() or not o.any() for o in outcomes)
    assert 60 < sum(not o.any() for o in outcomes) < 140


@pytest.mark.parametrize("missing", [0.0, 0.5, 0.8])
def test_adaptive_formula(missing):
    dropout = TextDropout(mode="adaptive", base=0.2, lam=2.0)
    n = 10
    has_text = torch.arange(n) >= round(missing * n)
    assert dropout.probability(has_text) == pytest.approx(0.2 * (1 + 2.0 * missing))


def test_schedule_switches_on_epoch_boundaries():
    schedule = PlaceholderSchedule.parse("1:zero,11:mask,21:alternate")
    assert [schedule.kind(e, 0) for e in (1, 10, 11, 20)] == ["zero", "zero", "mask", "mask"]
    assert [schedule.kind(21, s) for s in range(4)] == ["zero", "mask", "zero", "mask"]
    assert schedule.kinds == ("zero", "mask")
    with pytest.raises(ValueError, match="start at epoch 1"):
        PlaceholderSchedule.parse("2:zero")
    with pytest.raises(ValueError, match="EPOCH:KIND"):
        PlaceholderSchedule.parse("1:zeros")


def test_scenario_b_uses_the_placeholder_even_with_text():
    model = model_for("mask+indicator").eval()
    batch = make_batch(has_text=(True, True, True, True))
    a = model.fuse(batch).embeds
    b = model.fuse(batch, present=torch.zeros(4, dtype=torch.bool)).embeds
    none_text = dict(batch, text=torch.zeros_like(batch["text"]), has_text=torch.zeros(4, dtype=torch.bool))
    c = model.fuse(none_text).embeds
    torch.testing.assert_close(b, c)  # the real text is ignored entirely in scenario B
    assert not torch.allclose(a, b)


def test_the_gloss_head_learns_ctc_from_the_videos_that_have_glosses():
    glosses = ("a", "b", "c")
    model = model_for("mask", glosses=glosses)
    batch = {**make_batch(), "glosses": ["a b", "", "c a c", "unknown"]}  # two videos without known glosses
    out = model(batch, labels())
    assert out["ctc_loss"].ndim == 0 and torch.isfinite(out["ctc_loss"])
    out["ctc_loss"].backward()
    assert model.gloss_head.weight.grad.abs().sum() > 0 and model.pose_encoder.frame[0].weight.grad.abs().sum() > 0
    # Only the videos with glosses count: changing a gloss-less video's keypoints leaves the loss as it is.
    other = {**batch, "keypoints": batch["keypoints"].clone()}
    other["keypoints"][1] += 1.0
    model.eval()
    torch.testing.assert_close(model(other, labels())["ctc_loss"], model(batch, labels())["ctc_loss"])
    none = model({**batch, "glosses": ["", "", "", ""]}, labels())["ctc_loss"]
    assert none.item() == 0.0
    assert "ctc_loss" not in model_for("mask")(batch, labels())  # no vocabulary, no head
    assert ModelConfig.from_dict(model.config.to_dict()) == model.config


def test_gloss_input_starts_as_the_model_without_it_and_learns_from_the_translation_loss():
    batch = {**make_batch(), "glosses": ["a b", "", "c a c", "b"]}
    without, model = (
        model_for("mask", glosses=("a", "b", "c")),
        model_for("mask", glosses=("a", "b", "c"), gloss_input=True),
    )
    model.load_state_dict({**without.state_dict(), "gloss_input.weight": model.gloss_input.weight}, strict=True)
    model.eval(), without.eval()
    torch.testing.assert_close(model(batch, labels())["logits"], without(batch, labels())["logits"])  # zero at first
    model.train()
    model(batch, labels())["loss"].backward()  # the translation loss alone reaches it
    assert model.gloss_input.weight.grad.abs().sum() > 0
    with torch.no_grad():
        model.gloss_input.weight.normal_()
    model.eval()
    assert not torch.allclose(model(batch, labels())["logits"], without(batch, labels())["logits"])
    assert ModelConfig.from_dict(model.config.to_dict()) == model.config
    with pytest.raises(ValueError, match="gloss head"):
        ModelConfig(P, DT, gloss_input=True)


def test_token_fusion_adds_the_description_tokens_only_where_text_is_present():
    torch.manual_seed(0)
    fusion = TokenFusion(d_model=8, text_dim=6, indicator=True, text_tokens=True)
    fusion.set_token_statistics(torch.randn(40, 6) + 2.0)
    pose, mask, text = torch.randn(3, 5, 8), torch.ones(3, 5), torch.randn(3, 6)
    tokens = torch.randn(3, 4, 6)
    token_mask = torch.tensor([[True, True, True, False], [True, True, False, False], [True] * 4])
    present = torch.tensor([True, True, False])  # the third has tokens, but its text was dropped
    fused, fused_mask, _ = fusion(pose, mask, text, present, None, tokens, token_mask)
    assert fused.shape == (3, 1 + 4 + 5, 8) and torch.equal(fused[:, 5:], pose)
    assert fused_mask[:, 1:5].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    standardised = (tokens[0, 0] - fusion.token_center) / fusion.token_scale
    torch.testing.assert_close(fused[0, 1], fusion.token_proj(standardised))
    assert torch.count_nonzero(fused[2, 1:5]) == 0 and torch.count_nonzero(fused[0, 4]) == 0
    silenced, _, _ = fusion(pose, mask, text, present, torch.zeros(3), tokens, token_mask)
    assert torch.count_nonzero(silenced[:, :5]) == 0  # gate_scale 0: no text step says anything
    with pytest.raises(ValueError, match="token fusion"):
        ModelConfig(P, DT, fusion="gate", text_tokens=True)


def test_position_encodings_tell_the_steps_of_a_still_video_apart():
    """Convolutions give every step of a constant input the same feature away from the edges; only the
    position encodings let the decoder know which step comes first."""
    still = {"keypoints": torch.ones(1, 12, P, 3), "conf": torch.ones(1, 12, P), "mask": torch.ones(1, 12)}
    for positions in (False, True):
        torch.manual_seed(0)
        encoder = PoseEncoder(P, 16, positions=positions).eval()
        steps, _ = encoder(still["keypoints"], still["conf"], still["mask"])
        middle = steps[0, 4:8]
        assert torch.allclose(middle, middle[:1].expand_as(middle), atol=1e-5) is not positions


def test_word_dropout_hides_the_decoders_input_words_but_not_the_start_or_the_labels():
    model = model_for("mask+indicator")
    backbone, y = model.backbone, labels()
    assert decoding.hide_words(backbone, y, 0.0, unk_id=2) is None  # off: the backbone shifts the labels itself
    shifted = backbone.prepare_decoder_input_ids_from_labels(labels=y)
    every = decoding.hide_words(backbone, y, 1.0, unk_id=2)
    real = shifted != backbone.config.pad_token_id
    assert (every[:, 0] == shifted[:, 0]).all() and (every[:, 1:][real[:, 1:]] == 2).all()
    assert (every[~real] == shifted[~real]).all()  # padding stays padding
    torch.manual_seed(0)
    some = decoding.hide_words(backbone, torch.randint(3, 50, (64, 20)), 0.3, unk_id=2)
    assert 0.25 < (some[:, 1:] == 2).float().mean() < 0.35
    # The loss is still on the true labels, and the hidden words change what the decoder predicts.
    model.eval()
    batch = make_batch()
    plain = model(batch, y)
    hidden = model(batch, y, decoder_input_ids=every)
    assert torch.equal(model(batch, y, decoder_input_ids=shifted)["logits"], plain["logits"])
    assert not torch.allclose(hidden["logits"][:, 1:], plain["logits"][:, 1:])
