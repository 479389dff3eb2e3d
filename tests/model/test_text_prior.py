"""The text prior and its refinements (coverage, the token prior): mmprep's own path from the words a
description names to the output's logits, beyond the design (docs/missing-modality.md, section 3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from model_helpers import DT, P, labels, make_batch, model_for
from transformers import LogitsProcessor, LogitsProcessorList

from prep.model import decoding
from prep.model.decoding import AverageMembers
from prep.model.translation import ModelConfig, SignTranslationModel


class AddPrior(LogitsProcessor):
    """The text prior by the book, for comparison: each row's next-token log-probabilities from its logits plus
    the prior (rows of ``prior`` repeated for the beams)."""

    def __init__(self, prior: torch.Tensor):
        self.prior = prior

    def __call__(self, input_ids, scores):
        prior = self.prior.repeat_interleave(scores.shape[0] // self.prior.shape[0], 0)
        return (scores.float() + prior).log_softmax(-1)


def test_text_prior_starts_at_zero_and_learns_which_word_the_text_names():
    model = model_for("zero", text_prior=True)
    batch = make_batch(has_text=(True, True, True, True))
    batch["text"] = torch.tensor([[3.0] + [0.0] * (DT - 1), [-3.0] + [0.0] * (DT - 1)]).repeat(2, 1)
    assert torch.count_nonzero(model.fuse(batch).prior) == 0  # the model starts as the one without a prior
    # The first token is 5 where the text says +, 6 where it says -; the poses cannot tell (all the same).
    batch["keypoints"] = torch.zeros_like(batch["keypoints"])
    targets = torch.tensor([[5, 1], [6, 1], [5, 1], [6, 1]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        optimizer.zero_grad()
        model(batch, targets)["loss"].backward()
        optimizer.step()
    prior = model.eval().fuse(batch).prior
    assert (prior[[0, 2], 5] > prior[[0, 2], 6]).all() and (prior[[1, 3], 6] > prior[[1, 3], 5]).all()
    # No prior from the zero placeholder (a video without text); gate_scale scales it as it scales the text.
    missing = model.fuse(batch, present=torch.tensor([True, False, True, False]), gate_scale=torch.full((4,), 0.5))
    assert torch.count_nonzero(missing.prior[[1, 3]]) == 0
    torch.testing.assert_close(missing.prior[[0, 2]], prior[[0, 2]] * 0.5)
    assert ModelConfig.from_dict(model.config.to_dict()).text_prior


def test_text_prior_reaches_teacher_forcing_and_every_decoding_path():
    model = model_for("mask", text_prior=True).eval()
    torch.nn.init.normal_(model.text_prior.weight, std=2.0)  # a prior that changes the outputs
    batch = make_batch()
    fused = model.fuse(batch)
    plain = model.backbone(inputs_embeds=fused.embeds, attention_mask=fused.mask, labels=labels())
    torch.testing.assert_close(model(batch, labels())["logits"], plain.logits + fused.prior[:, None])
    settings = {"max_new_tokens": 6, "do_sample": False}
    for beams in (1, 3):
        ours = decoding.generate(model, batch, [{}], num_beams=beams, **settings)
        by_the_book = model.backbone.generate(
            inputs_embeds=fused.embeds, attention_mask=fused.mask, num_beams=beams,
            logits_processor=LogitsProcessorList([AddPrior(fused.prior)]), **settings,
        )  # fmt: skip
        assert torch.equal(ours, by_the_book)
        without = model.backbone.generate(inputs_embeds=fused.embeds, attention_mask=fused.mask, num_beams=beams,
                                          **settings)  # fmt: skip
        assert not torch.equal(ours, without)  # not vacuous: the prior changed the translations
    # The ensemble: every member's logits get its own prior before the members' probabilities are averaged.
    members = [{}, {"kind": "zero", "present": torch.zeros(4, dtype=torch.bool)}]
    ours = decoding.generate(model, batch, members, num_beams=2, **settings)
    parts = [model.fuse(batch, **member) for member in members]
    by_the_book = model.backbone.generate(
        inputs_embeds=torch.cat([p.embeds for p in parts]), attention_mask=torch.cat([p.mask for p in parts]),
        num_beams=2, **settings,
        logits_processor=LogitsProcessorList([AddPrior(torch.cat([p.prior for p in parts])), AverageMembers(2)]),
    )[:4]  # fmt: skip
    assert torch.equal(ours, by_the_book)


class PriorAndCoverage(LogitsProcessor):
    """The coverage penalty by the book: the prior added, then each token said so far (after the start token)
    lowers its own score by the row's coverage, once per time said."""

    def __init__(self, prior: torch.Tensor, coverage: torch.Tensor):
        self.prior, self.coverage = prior, coverage

    def __call__(self, input_ids, scores):
        beams = scores.shape[0] // self.prior.shape[0]
        scores = scores.float() + self.prior.repeat_interleave(beams, 0)
        for row, said in enumerate(input_ids[:, 1:].tolist()):
            for token in said:
                scores[row, token] -= self.coverage[row // beams]
        return scores.log_softmax(-1)


def coverage_model() -> SignTranslationModel:
    model = model_for("mask", text_prior=True, prior_coverage=True).eval()
    torch.nn.init.normal_(model.text_prior.weight, std=2.0)
    with torch.no_grad():
        model.prior_coverage.fill_(3.0)  # large enough to change what is said
    return model


def test_prior_coverage_starts_at_zero_and_counts_only_videos_with_text():
    model = model_for("mask", text_prior=True, prior_coverage=True).eval()
    batch = make_batch()
    plain = model_for("mask", text_prior=True, prior_coverage=False).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k != "prior_coverage"})
    torch.testing.assert_close(model(batch, labels())["logits"], plain(batch, labels())["logits"])  # starts as without
    model(batch, labels())["loss"].backward()
    assert model.prior_coverage.grad != 0
    model.zero_grad()
    model(batch, labels(), present=torch.zeros(4, dtype=torch.bool))["loss"].backward()
    assert model.prior_coverage.grad == 0  # no text, no coverage: a placeholder names nothing
    fused = coverage_model().fuse(batch, gate_scale=torch.full((4,), 0.5))
    torch.testing.assert_close(fused.coverage, torch.tensor([1.5, 0.0, 1.5, 0.0]))
    with pytest.raises(ValueError, match="needs the text prior"):
        ModelConfig(P, DT, text_prior=False, prior_coverage=True)


def test_prior_coverage_is_the_same_rule_in_training_and_in_every_decoding_path():
    model = coverage_model()
    batch = make_batch()
    fused = model.fuse(batch)
    # Teacher forcing: at step t every label before t takes the row's coverage off its own score.
    plain = model.backbone(inputs_embeds=fused.embeds, attention_mask=fused.mask, labels=labels()).logits
    expected = plain + fused.prior[:, None]
    for row, said in enumerate(labels().tolist()):
        for t in range(len(said)):
            for token in said[:t]:
                expected[row, t, max(token, 0)] -= fused.coverage[row]
    torch.testing.assert_close(model(batch, labels())["logits"], expected)
    settings = {"max_new_tokens": 6, "do_sample": False}
    # Greedy decoding (with the cache) says what teacher forcing on its own output would pick at every step.
    greedy = decoding.generate(model, batch, [{}], num_beams=1, **settings)
    said = greedy[:, 1:].masked_fill(greedy[:, 1:] == 0, -100)
    forced = model(batch, said)["logits"].argmax(-1)
    assert torch.equal(forced[said != -100], said[said != -100])
    for beams in (1, 3):
        ours = decoding.generate(model, batch, [{}], num_beams=beams, **settings)
        by_the_book = model.backbone.generate(
            inputs_embeds=fused.embeds, attention_mask=fused.mask, num_beams=beams,
            logits_processor=LogitsProcessorList([PriorAndCoverage(fused.prior, fused.coverage)]), **settings,
        )  # fmt: skip
        assert torch.equal(ours, by_the_book)
        no_coverage = model.backbone.generate(
            inputs_embeds=fused.embeds, attention_mask=fused.mask, num_beams=beams,
            logits_processor=LogitsProcessorList([AddPrior(fused.prior)]), **settings,
        )  # fmt: skip
        assert not torch.equal(ours, no_coverage)  # not vacuous: the coverage changed the translations
    members = [{}, {"kind": "zero", "present": torch.zeros(4, dtype=torch.bool)}]
    ours = decoding.generate(model, batch, members, num_beams=2, **settings)
    parts = [model.fuse(batch, **member) for member in members]
    reference = PriorAndCoverage(torch.cat([p.prior for p in parts]), torch.cat([p.coverage for p in parts]))
    by_the_book = model.backbone.generate(
        inputs_embeds=torch.cat([p.embeds for p in parts]), attention_mask=torch.cat([p.mask for p in parts]),
        num_beams=2, **settings, logits_processor=LogitsProcessorList([reference, AverageMembers(2)]),
    )[:4]  # fmt: skip
    assert torch.equal(ours, by_the_book)


def test_token_prior_counts_how_often_the_description_names_a_word():
    model = model_for("mask", text_prior=True, text_tokens=True, prior_tokens=True).eval()
    model.fusion.set_token_statistics(torch.randn(40, DT) + 2.0)
    batch = make_batch(has_text=(True, True, True, False))
    word, other = torch.randn(DT), torch.randn(DT)
    batch["text_tokens"] = torch.stack([word.expand(4, DT)] * 4)  # every video: the word's token 4 times
    batch["text_tokens"][:, 2:] = other
    batch["text_token_mask"] = torch.tensor([[True] * 4, [True, False, True, False], [True] * 4, [True] * 4])
    batch["text_tokens"][2, 1] = other  # video 2 names the word once, video 0 twice
    assert torch.count_nonzero(model.fuse(batch).prior) == 0  # zero at the start
    torch.nn.init.normal_(model.token_prior.weight)  # the pooled text's projection stays zero: tokens only
    prior = model.fuse(batch).prior
    standardized = model.fusion.standardize_tokens
    each = {name: F.linear(model.token_prior(standardized(t)), model.backbone.get_output_embeddings().weight)
            for name, t in (("word", word), ("other", other))}  # fmt: skip
    torch.testing.assert_close(prior[0], 2 * each["word"] + 2 * each["other"])
    torch.testing.assert_close(prior[1], each["word"] + each["other"])  # masked tokens say nothing
    torch.testing.assert_close(prior[2], each["word"] + 3 * each["other"])
    assert torch.count_nonzero(prior[3]) == 0  # no text, no tokens
    with pytest.raises(ValueError, match="needs the per-token text features"):
        ModelConfig(P, DT, text_prior=True, prior_tokens=True)
