"""BLEU comparable with published tables: the tokeniser follows the store's language, the report records
sacrebleu's signature, and the bootstrap's statistics come from sacrebleu's public API."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import sacrebleu

import prep
from prep import schemas
from prep.bleu import choose
from prep.errors import InputError
from prep.evaluate import metrics as m
from prep.evaluate import read

GERMAN = (["am tag regnet es, im norden.", "morgen wird es kalt"], ["am tag regnet es im norden.", "morgen kalt!"])
CHINESE = (["我想学习手语", "今天天气很好"], ["我想学手语。", "今天天气很好。"])


def test_the_tokeniser_follows_the_language_then_the_script():
    assert choose("zh", GERMAN[1]) == ("zh", "the store's language (zh)")
    assert choose("de", CHINESE[1]) == ("13a", "the store's language (de)")
    assert choose("en", GERMAN[1])[0] == "13a"
    assert choose(None, CHINESE[1]) == ("zh", "the references' script (the store records no language)")
    assert choose(None, GERMAN[1])[0] == "13a"
    assert choose("zh", CHINESE[1], override="char") == ("char", "--tokenize")
    with pytest.raises(InputError, match="sacrebleu has no tokeniser 'words'; use one of none, zh, 13a"):
        choose("zh", CHINESE[1], override="words")


@pytest.mark.parametrize(("tokenize", "sentences"), [("zh", CHINESE), ("13a", GERMAN), ("13a", CHINESE)])
def test_per_sentence_statistics_sum_to_sacrebleus_corpus_bleu(tokenize, sentences):
    hypotheses, references = sentences
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize)
    stats = m.sentence_statistics(metric, hypotheses, references)
    expected = metric.corpus_score(hypotheses, [references])
    assert stats.sum(0).tolist() == [expected.sys_len, expected.ref_len, *expected.counts, *expected.totals]
    assert m.bleu_from_statistics(metric, stats.sum(0)) == pytest.approx(expected.score, abs=1e-12)
    assert m.bleu(hypotheses, references, tokenize)["4"] == expected.score
    # a resample that draws the first sentence twice is the corpus of that sentence twice
    twice = metric.corpus_score([hypotheses[0]] * 2, [[references[0]] * 2]).score
    assert m.bleu_from_statistics(metric, stats[[0, 0]].sum(0)) == pytest.approx(twice, abs=1e-12)


def test_the_tokeniser_changes_the_score_where_it_should():
    """Character-level BLEU (zh) on Chinese is what CSL-Daily papers report; 13a sees one word per sentence,
    so it has no 4-grams: it scores 0 and cannot tell a system from the references."""
    hypotheses, references = CHINESE
    assert m.bleu(hypotheses, references, "zh")["4"] > 30
    assert m.bleu(hypotheses, references, "13a")["4"] == 0.0
    ci_zh = m.paired_bootstrap(hypotheses, references, references, resamples=50, tokenize="zh")
    ci_13a = m.paired_bootstrap(hypotheses, references, references, resamples=50, tokenize="13a")
    assert ci_zh[1] < 0 and ci_13a == [0.0, 0.0]
    assert m.bleu(references, references, "13a")["4"] == 0.0


def test_eval_reports_the_tokeniser_and_sacrebleus_signature(trained_run, cli, tmp_path):
    default = tmp_path / "default.json"
    cli("eval", trained_run, "--out", default, "-q", "--max-videos", "6", "--bootstrap", "20")
    report = json.loads(default.read_text())
    assert schemas.errors("eval-report", report) == []
    version = sacrebleu.__version__
    assert report["sacrebleu"] == {
        "tokenize": "zh",
        "chosen_by": "the references' script (the store records no language)",  # synth stores record none
        "signature": f"nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:{version}",
    }

    store = tmp_path / "german.zarr"
    shutil.copytree(json.loads(default.read_text())["store"], store)
    with prep.open_store(str(store), mode="a") as writable:
        writable.set_language("de")
    other = tmp_path / "de.json"
    cli("eval", trained_run, "--store", store, "--out", other, "-q", "--max-videos", "6", "--bootstrap", "20")
    report_de = json.loads(other.read_text())
    assert report_de["sacrebleu"]["tokenize"] == "13a"
    assert report_de["sacrebleu"]["chosen_by"] == "the store's language (de)"
    assert "tok:13a" in report_de["sacrebleu"]["signature"]
    _, videos = read(other)
    hypotheses, references = [v["hypothesis"] for v in videos], [v["reference"] for v in videos]
    assert report_de["bleu"]["4"] == sacrebleu.corpus_bleu(hypotheses, [references], tokenize="13a").score
    assert [v["sentence_bleu"] for v in videos] == [
        sacrebleu.sentence_bleu(h, [r], tokenize="13a").score for h, r in zip(hypotheses, references, strict=True)
    ]

    forced = tmp_path / "forced.json"
    cli("eval", trained_run, "--store", store, "--tokenize", "zh", "--out", forced, "-q", "--max-videos", "6",
        "--bootstrap", "20")  # fmt: skip
    report_forced = json.loads(forced.read_text())
    assert report_forced["sacrebleu"]["chosen_by"] == "--tokenize"
    assert (
        report_forced["bleu"] == report["bleu"] and np.isfinite(report_forced["consistency"]["delta_bleu"]["ci"]).all()
    )
