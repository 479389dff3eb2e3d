"""`mmprep eval`: metrics against their reference libraries, the consistency check, inference modes, determinism."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import sacrebleu
import torch
from click.testing import CliRunner

from prep import schemas
from prep.cli import main
from prep.errors import InputError
from prep.evaluate import InferenceMode, evaluate, read
from prep.evaluate import metrics as m
from prep.evaluate.loading import load_run
from prep.inference import export_model
from prep.model.decoding import AverageMembers, generate, to_device

HYPOTHESES = ["我想学习手语", "今天天气很好", "他穿着蓝色的衬衫", "一个男人在公园里", "The woman waves"]
REFERENCES = [
    "我想学手语",
    "今天天气很好。",
    "他穿着红色的衬衫打手语",
    "一个女人在公园里挥手",
    "The woman waves both hands",
]


def test_bleu_rouge_and_sentence_bleu_equal_their_libraries():
    scores = m.bleu(HYPOTHESES, REFERENCES)
    assert scores["4"] == sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], tokenize="zh").score
    for n in (1, 2, 3):
        direct = sacrebleu.metrics.BLEU(tokenize="zh", max_ngram_order=n).corpus_score(HYPOTHESES, [REFERENCES])
        assert scores[str(n)] == direct.score
    assert scores["1"] > scores["2"] > scores["3"] > scores["4"] > 0
    assert m.sentence_bleu(HYPOTHESES, REFERENCES) == [
        sacrebleu.sentence_bleu(h, [r], tokenize="zh").score for h, r in zip(HYPOTHESES, REFERENCES, strict=True)
    ]
    # ROUGE-L on characters: LCS("我想学习手语", "我学手语") = 4 -> P 4/6, R 4/4, F1 0.8; English by words.
    assert m.rouge_l(["我想学习手语"], ["我学手语"]) == pytest.approx(80.0)
    assert m.rouge_l(["the woman waves"], ["the woman waves both hands"]) == pytest.approx(100 * 2 * 0.6 / 1.6)
    assert m.rouge_l(["完全不同"], ["我学手语"]) == 0.0


def test_targets_pass_and_fail_at_their_thresholds():
    assert m.judge("delta_bleu", 1.99)["pass"] and not m.judge("delta_bleu", 2.0)["pass"]
    assert m.judge("delta_bleu", -1.99)["pass"] and not m.judge("delta_bleu", -2.5)["pass"]  # |delta|
    assert m.judge("kl", 0.0999)["pass"] and not m.judge("kl", 0.1)["pass"]
    assert m.judge("confidence_std", 0.0499)["pass"] and not m.judge("confidence_std", 0.05)["pass"]
    assert m.judge("spearman", 0.9001)["pass"] and not m.judge("spearman", 0.9)["pass"]
    assert m.judge("spearman", None) == {"value": None, "target": 0.9, "rule": "> 0.9", "pass": False}


def test_spearman_and_the_paired_bootstrap():
    assert m.spearman([1, 5, 3, 2], [10, 50, 30, 20]) == pytest.approx(1.0)
    assert m.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert m.spearman([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)  # ties share ranks
    assert m.spearman([0, 0, 0], [1, 2, 3]) is None
    assert m.paired_bootstrap(HYPOTHESES, HYPOTHESES, REFERENCES) == [0.0, 0.0]
    worse = ["我", "今天", "他", "一个", "The"]
    ci = m.paired_bootstrap(HYPOTHESES, worse, REFERENCES, resamples=200, seed=3)
    delta = m.bleu(HYPOTHESES, REFERENCES)["4"] - m.bleu(worse, REFERENCES)["4"]
    assert ci[0] < delta < ci[1] and ci[0] > 0
    assert ci == m.paired_bootstrap(HYPOTHESES, worse, REFERENCES, resamples=200, seed=3)
    assert ci != m.paired_bootstrap(HYPOTHESES, worse, REFERENCES, resamples=200, seed=4)


def test_kl_and_confidence_under_teacher_forcing():
    torch.manual_seed(0)
    logits_a, logits_b = torch.randn(2, 3, 5), torch.randn(2, 3, 5)
    labels = torch.tensor([[4, 2, 1], [3, 1, -100]])
    same = m.token_statistics(logits_a.log_softmax(-1), logits_a.log_softmax(-1), labels)
    assert (same["kl_sum"] == 0).all() and (same["confidence_a"] == same["confidence_b"]).all()
    got = m.token_statistics(logits_a.log_softmax(-1), logits_b.log_softmax(-1), labels)
    p, q = logits_a.softmax(-1).double(), logits_b.softmax(-1).double()
    kl = (p * (p / q).log()).sum(-1)
    np.testing.assert_allclose(got["kl_sum"], [kl[0].sum(), kl[1, :2].sum()], rtol=1e-5)
    assert got["tokens"].tolist() == [3, 2]
    np.testing.assert_allclose(got["confidence_a"], [p[0].max(-1).values.mean(), p[1, :2].max(-1).values.mean()])
    # the ensemble's distribution is the members' mean probability
    mixed = m.mixture_log_probs([logits_a, logits_b]).exp()
    torch.testing.assert_close(mixed, (logits_a.softmax(-1) + logits_b.softmax(-1)) / 2)


@pytest.fixture(scope="module")
def evaluated(trained_run):
    """`mmprep eval` of the tiny run on the dev split (missing-aware): (report path, terminal output)."""
    result = CliRunner().invoke(main, ["eval", str(trained_run), "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return trained_run / "eval" / "dev-missing-aware.json", result.output


def test_eval_writes_a_valid_report_and_predictions(evaluated):
    path, output = evaluated
    report, videos = read(path)
    assert schemas.errors("eval-report", report) == []
    assert "KL(P_A || P_B) per token" in output and "with-text videos" in output and str(path) in output
    assert report["split"] == "dev" and report["mode"] == "missing-aware" and report["n"] == len(videos)
    assert report["n_with_text"] == sum(v["has_text"] for v in videos) > 0
    assert report["predictions"] == "dev-missing-aware.predictions.jsonl"
    references = [v["reference"] for v in videos]
    assert report["bleu"]["4"] == sacrebleu.corpus_bleu([v["hypothesis"] for v in videos], [references],
                                                        tokenize="zh").score  # fmt: skip
    assert report["bleu_without_text"] == m.bleu([v["hypothesis_without_text"] for v in videos], references)
    for key in ("delta_bleu", "kl", "confidence_std", "spearman"):
        assert set(report["consistency"][key]) >= {"value", "target", "pass"}
    assert len(report["consistency"]["delta_bleu"]["ci"]) == 2
    assert report["with_text"]["n"] == report["n_with_text"]
    # A and B differ only where a description exists: the gate is open in this run, so text changes the output
    without = [v for v in videos if not v["has_text"]]
    assert all(v["kl"] == 0.0 and v["hypothesis"] == v["hypothesis_without_text"] for v in without)
    assert all(v["kl"] > 0 for v in videos if v["has_text"])


def test_identical_scenarios_pass_every_consistency_target(evaluated):
    _, videos = read(evaluated[0])
    without = [v for v in videos if not v["has_text"]]  # the placeholder in A and in B
    same = m.consistency(without)
    assert same["kl"]["value"] == 0.0 and same["confidence_std"]["value"] == 0.0
    assert same["delta_bleu"]["value"] == 0.0 and same["delta_bleu"]["ci"] == [0.0, 0.0]
    # Spearman (tested above) needs sentence scores that differ between videos; a model trained for 4 steps may tie
    # them all at 0, so the same outputs get distinct scores, equal in A and B
    ranked = [{**v, "sentence_bleu": float(i), "sentence_bleu_without_text": float(i)} for i, v in enumerate(without)]
    assert len(ranked) > 2 and m.consistency(ranked)["verdict"] == "pass"


def test_eval_is_deterministic(evaluated, cli, tmp_path, monkeypatch):
    path, _ = evaluated
    monkeypatch.setenv("MMPREP_STORE", str(tmp_path / "elsewhere.zarr"))  # eval reads the run's store, not this
    cli("eval", path.parent.parent, "--out", tmp_path / "again.json", "-q")
    again = json.loads((tmp_path / "again.json").read_text())
    assert {**again, "predictions": None} == {**json.loads(path.read_text()), "predictions": None}
    assert (tmp_path / "again.predictions.jsonl").read_bytes() == path.with_name(
        "dev-missing-aware.predictions.jsonl"
    ).read_bytes()


def test_conservative_and_adaptive_scale_the_gate(trained_run, evaluated):
    _, plain = read(evaluated[0])
    conservative, videos = evaluate(trained_run, mode=InferenceMode("conservative", alpha=0.5), progress=False)
    for a, b in zip(plain, videos, strict=True):  # gated fusion: each video's mean gate opening
        assert b["gate_opening"] == pytest.approx(0.5 * a["gate_opening"], rel=1e-5)
        assert b["gate_opening_without_text"] == pytest.approx(0.5 * a["gate_opening_without_text"], rel=1e-5)
    report, videos = evaluate(trained_run, mode=InferenceMode("adaptive", factor=0.0), progress=False)
    for a, b in zip(plain, videos, strict=True):
        assert b["gate_opening_without_text"] == 0.0  # pose only
        assert b["gate_opening"] == (pytest.approx(a["gate_opening"]) if a["has_text"] else 0.0)
    assert report["mode"] == "adaptive" and report["factor"] == 0.0 and conservative["alpha"] == 0.5
    assert report["fusion"] == "gate" and "gate" not in videos[0] and "text_norm_share" not in videos[0]


def test_ensemble_averages_the_members_probabilities_at_every_step(trained_run):
    run = load_run(trained_run)
    data = run.dataset("dev")
    from prep.data.dataset import collate

    batch = to_device(collate(data.__getitems__(range(6))), run.device)
    members = InferenceMode("ensemble").members(batch, "A")
    assert [m_.get("kind") for m_ in members] == [None, "zero", "mask"]
    steps = 8
    ensemble = generate(run.model, batch, members, max_new_tokens=steps, num_beams=1, do_sample=False)

    # The same greedy decoding by hand: each member's next-token distribution, averaged, argmax.
    start = run.model.backbone.config.decoder_start_token_id
    eos = run.model.backbone.config.eos_token_id
    fused = [run.model.fuse(batch, **member) for member in members]
    tokens = torch.full((6, 1), start)
    singles = []
    with torch.no_grad():
        for _ in range(steps):
            probs = [
                run.model.backbone(inputs_embeds=f.embeds, attention_mask=f.mask, decoder_input_ids=tokens)
                .logits[:, -1]
                .softmax(-1)
                for f in fused
            ]
            singles.append([p.argmax(-1) for p in probs])
            tokens = torch.cat([tokens, torch.stack(probs).mean(0).argmax(-1, keepdim=True)], dim=1)
    for row in range(6):
        expected = tokens[row, 1:].tolist()
        if eos in expected:
            expected = expected[: expected.index(eos) + 1]
        assert ensemble[row, 1 : 1 + len(expected)].tolist() == expected
    # not vacuous: the members disagree somewhere, so averaging decides
    assert any(not (s[0] == s[1]).all() or not (s[0] == s[2]).all() for s in singles)

    # Beam search over stacked members: three identical members decode exactly as one (rows stay aligned).
    one = generate(run.model, batch, members[:1], max_new_tokens=steps, num_beams=3, do_sample=False)
    three = generate(run.model, batch, members[:1] * 3, max_new_tokens=steps, num_beams=3, do_sample=False)
    assert torch.equal(one, three)

    scores = torch.randn(6, 5)  # 3 members x 2 rows
    averaged = AverageMembers(3)(None, scores)
    by_hand = scores.softmax(-1).reshape(3, 2, 5).mean(0)
    torch.testing.assert_close(averaged.exp(), by_hand.repeat(3, 1))


def test_ensemble_without_a_mask_embedding_uses_the_stores_mask_init(synth_store, tmp_path):
    from helpers import TINY_RUN

    from prep.train.config import resolve
    from prep.train.loop import train

    run_dir = tmp_path / "zero"
    train(
        resolve({}, {"store": synth_store, **TINY_RUN, "placeholder": "zero", "max_steps": 1}), run_dir, progress=False
    )
    run = load_run(run_dir, need_mask=True)
    assert run.mask_source == "store mask_init"
    np.testing.assert_array_equal(run.model.placeholder.mask[0].numpy(), run.store.mask_init)
    report, _ = evaluate(run_dir, mode=InferenceMode("ensemble"), max_videos=3, progress=False)
    assert report["mask_source"] == "store mask_init"

    store = tmp_path / "no-mask.zarr"
    shutil.copytree(synth_store, store)
    shutil.rmtree(store / "mask_init")
    with pytest.raises(InputError, match=r"no mask_init; run `mmprep init-mask"):
        evaluate(run_dir, mode=InferenceMode("ensemble"), store_url=str(store), progress=False)


def test_mode_options_are_checked(trained_run, cli):
    assert "--mode conservative needs --alpha" in cli("eval", trained_run, "--mode", "conservative", expect=1).output
    assert "--factor belongs to --mode adaptive" in cli("eval", trained_run, "--factor", "0.5", expect=1).output
    assert "--alpha must be in [0, 1]" in cli("eval", trained_run, "--mode", "conservative", "--alpha", "2",
                                              expect=1).output  # fmt: skip


def test_eval_reads_a_store_on_s3(trained_run, tiny_mt5, s3_url, cli, tmp_path):
    import s3fs

    local = str(tmp_path / "small.zarr")  # a small store: 4 dev videos, half of them with text
    cli(
        "synth",
        local,
        "--videos",
        "8",
        "--vocab",
        "12",
        "--ambiguous-pairs",
        "2",
        "--text-ratio",
        "0.5",
        "--splits",
        "0.5,0.5,0",
        "--seed",
        "1",
    )
    cli("encode-text", "--store", local, "--model", tiny_mt5)
    s3fs.S3FileSystem(skip_instance_cache=True).put(local, s3_url.removeprefix("s3://"), recursive=True)
    for name, store in (("s3", s3_url), ("local", local)):
        cli("eval", trained_run, "--store", store, "--storage-options", "{}", "--out", tmp_path / f"{name}.json", "-q")
    (report, videos), (local_report, local_videos) = read(tmp_path / "s3.json"), read(tmp_path / "local.json")
    assert report["store"] == s3_url and report["n"] == 4 and report["n_with_text"] == 2
    assert videos == local_videos and report["bleu"] == local_report["bleu"]


def test_a_store_with_other_text_features_is_refused(trained_run, synth_store, other_mt5, tmp_path, cli):
    store = str(tmp_path / "other.zarr")
    shutil.copytree(synth_store, store)
    cli("encode-text", "--store", store, "--model", other_mt5)
    output = cli("eval", trained_run, "--store", store, expect=1).output
    assert "text features are 48-wide, the run was trained on 32-wide" in output


def test_every_report_states_the_text_effect_and_the_ambiguous_words(evaluated):
    report, videos = read(evaluated[0])
    effect = report["text_effect"]
    with_text = [v for v in videos if v["has_text"]]
    assert effect["n"] == len(with_text) and not effect["ignores_text"]  # the gate is open in this run
    assert effect["outputs_changed"] == sum(v["hypothesis"] != v["hypothesis_without_text"] for v in with_text) > 0
    references = [v["reference"] for v in with_text]
    assert effect["bleu4_with_text"] == m.bleu([v["hypothesis"] for v in with_text], references)["4"]
    assert effect["bleu4_without_text"] == report["with_text"]["bleu_without_text"]["4"]
    assert effect["ci"] == report["with_text"]["consistency"]["delta_bleu"]["ci"]
    accuracy = effect["ambiguous_accuracy"]  # a synth store: the answer key is known
    assert accuracy["n"] > 0 and 0.0 <= accuracy["with_text"] <= 1.0
    assert effect["ceilings"]["n_with_text"] == report["n_with_text"]  # the whole dev split was evaluated
    assert report["consistency"]["verdict"] in ("pass", "fail")
    assert "text effect: the description changes" in evaluated[1]


def test_a_model_whose_output_ignores_the_text_is_not_applicable_not_consistent(trained_run, tmp_path, cli):
    """Conservative fusion with alpha 0 closes the gate: the description cannot change any output."""
    out = tmp_path / "closed.json"
    printed = cli("eval", trained_run, "--mode", "conservative", "--alpha", "0", "--out", out, "-q").output
    report, videos = read(out)
    assert all(v["hypothesis"] == v["hypothesis_without_text"] for v in videos)
    assert report["text_effect"]["ignores_text"] and report["text_effect"]["outputs_changed"] == 0
    for part in (report, report["with_text"]):
        assert part["consistency"]["verdict"] == "not applicable" and part["consistency"]["pass"] is False
        assert part["consistency"]["kl"]["pass"]  # each target is met, trivially
    assert "the model ignores the description" in printed and "not applicable" in printed


def test_eval_on_another_store_writes_beside_the_runs_own_report(trained_run, synth_store, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval"))
    options = ("--max-videos", "2", "--bootstrap", "10", "-q")
    cli("eval", run, *options)
    cli("eval", run, "--store", synth_store, *options)  # the run's own store, named: the same report
    own = run / "eval" / "dev-missing-aware.json"
    before = own.read_bytes()
    other = tmp_path / "copy.zarr"
    shutil.copytree(synth_store, other)
    output = cli("eval", run, "--store", other, *options).output
    assert own.read_bytes() == before  # the run's report is not overwritten
    beside = run / "eval" / "dev-missing-aware.on-copy.json"
    assert f"note: {other} is not the store the run was trained on: the report goes to {beside}" in output
    assert read(beside)[0]["store"] == str(other)
    assert sorted(p.name for p in (run / "eval").iterdir()) == [
        "dev-missing-aware.json", "dev-missing-aware.on-copy.json", "dev-missing-aware.on-copy.predictions.jsonl",
        "dev-missing-aware.predictions.jsonl"]  # fmt: skip
    card = (export_model(run, tmp_path / "model")[0] / "README.md").read_text()
    assert card.count("| dev | missing-aware | 1 |") == 2  # in its two tables: the evaluation on its own store only


def test_eval_translates_every_with_text_video_with_a_strangers_description(evaluated):
    report, videos = read(evaluated[0])
    with_text = [v for v in videos if v["has_text"]]
    assert all(v["hypothesis_stranger_text"] is None and v["stranger"] is None for v in videos if not v["has_text"])
    assert sorted(v["stranger"] for v in with_text) == sorted(v["id"] for v in with_text)
    assert all(v["stranger"] != v["id"] for v in with_text)
    stranger = report["text_effect"]["stranger"]
    references = [v["reference"] for v in with_text]
    c = m.bleu([v["hypothesis_stranger_text"] for v in with_text], references)["4"]
    assert stranger["bleu4"] == c and stranger["c_minus_b"] == c - report["text_effect"]["bleu4_without_text"]
    assert stranger["n"] == len(with_text) and stranger["seed"] == 0
    assert stranger["outputs_changed"] == sum(v["hypothesis_stranger_text"] != v["hypothesis"] for v in with_text)
    assert report["text_effect"]["hallucination"]["C"]["n"] > 0  # the store's answer key lists what is named
    assert "With another video's description (C) BLEU-4" in evaluated[1]
