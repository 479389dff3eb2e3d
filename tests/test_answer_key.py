"""A synthetic store's answer key (prep/answer_key.py): the ambiguous pairs, the ceilings and the ambiguous-word
accuracy, and the key as read back from the store."""

from __future__ import annotations

import pytest

import prep
from prep.answer_key import AnswerKey, from_metadata
from prep.store import validate
from prep.synth import SynthConfig, describe, plan, sentence, vocabulary, write_synth

ZH = AnswerKey(("我", "我们", "他", "家", "学校"), (("我", "他"),), "zh")
EN = AnswerKey(("i", "he", "home", "school"), (("i", "he"),), "en")


def test_segmentation_matches_the_longest_word_and_skips_the_rest():
    assert ZH.segment("我们去学校") == ["我们", "学校"]  # 我们, not 我 then an unknown 们
    assert ZH.segment("我他，家！") == ["我", "他", "家"]
    assert EN.segment("i go home now") == ["i", "home"]


def test_ambiguous_accuracy_is_half_for_a_guess_and_for_hedging():
    references = ["我家", "他家", "我他学校", "家"]
    assert ZH.ambiguous_accuracy(references, references) == {"accuracy": 1.0, "n": 4}
    always_me = ["我家", "我家", "我我学校", "家"]  # a pose-only model: the same word of the pair every time
    assert ZH.ambiguous_accuracy(always_me, references)["accuracy"] == pytest.approx(2 / 4)
    hedging = ["我他家", "我他家", "我他学校", "家"]  # both words of the pair: half right, not all
    assert ZH.ambiguous_accuracy(hedging, references)["accuracy"] == pytest.approx((1 + 1 + 2) / (2 + 2 + 2))
    dropped = ["家", "家", "学校", "家"]
    assert ZH.ambiguous_accuracy(dropped, references)["accuracy"] == 0.0
    assert ZH.ambiguous_accuracy(["家"], ["学校"]) == {"accuracy": None, "n": 0}


def test_ceilings_follow_what_the_description_names():
    sentences = [
        ["我", "家", "学校", "家"],
        ["他", "学校", "我们"],
        ["我", "他", "家", "学校"],
        ["家", "学校", "我们"],
    ] * 5
    nothing, everything = [[] for _ in sentences], [list(s) for s in sentences]
    guessed = ZH.ceilings_of(sentences, nothing)
    assert guessed["pose_only_bleu4"] == guessed["with_text_bleu4"] < 100
    known = ZH.ceilings_of(sentences, everything)
    # 我 and 他 share a sign: where a sentence has both, the description says which, not where
    assert known["pose_only_bleu4"] == guessed["pose_only_bleu4"] < known["with_text_bleu4"] < 100.0
    separate = [s for s in sentences if not {"我", "他"} <= set(s)]
    assert ZH.ceilings_of(separate, [list(s) for s in separate])["with_text_bleu4"] == 100.0
    half = ZH.ceilings_of(sentences, [s if "我" in s and "他" in s else [] for s in sentences])  # some named
    assert guessed["pose_only_bleu4"] < half["with_text_bleu4"] < 100
    unambiguous = AnswerKey(ZH.words, (), "zh").ceilings_of(sentences, nothing)
    assert unambiguous == {"pose_only_bleu4": 100.0, "with_text_bleu4": 100.0}


def test_the_store_records_its_answer_key_and_it_matches_the_generator(store_url):
    config = SynthConfig(videos=60, vocab=10, ambiguous_pairs=2, text_ratio=0.5, text_info=1.0, seed=3)
    write_synth(store_url, config)
    store = prep.open_store(store_url)
    assert validate(store) == []
    key = store.synth
    vocab = vocabulary(config)
    assert key["words"] == vocab.words and key["config"]["seed"] == 3
    for a, b in key["ambiguous_pairs"]:  # identical signs, different words
        assert vocab.sign_of_word[vocab.words.index(a)] == vocab.sign_of_word[vocab.words.index(b)]
    rows = plan(config, vocab)
    for split, ceiling in key["ceilings"].items():
        videos = [i for i, r in enumerate(rows) if r["split"] == split and r["description"]]
        assert ceiling["n_with_text"] == len(videos) > 0
        # text_info 1: every word named; only the order of both words of a pair in one sentence is unknown
        assert ceiling["pose_only_bleu4"] < ceiling["with_text_bleu4"] <= 100.0
    # the answer key lists what each description names, and each named word appears in it
    i = next(i for i, r in enumerate(rows) if r["description"])
    words = [vocab.words[w] for w in sentence(config, i)]
    assert key["descriptions"][rows[i]["id"]] == describe(config, i, words, vocab).named
    assert all(w in rows[i]["description"] for w in key["descriptions"][rows[i]["id"]])
    # what evaluation scores against: the same key, read from the store's metadata
    read = from_metadata(store.synth)
    assert read.words == tuple(vocab.words) and read.pairs == tuple(map(tuple, key["ambiguous_pairs"]))
    assert read.ceilings == key["ceilings"] and read.named == key["descriptions"] and read.language == "zh"
    assert from_metadata(None) is None  # a store that mmprep synth did not write


def test_hallucinations_count_named_words_whose_sign_the_video_does_not_show():
    assert ZH.sign("他") == ZH.sign("我") == "我" and ZH.sign("家") == "家"
    assert ZH.as_signs("他去学校，我们") == "我学校我们"  # the two words of a pair are one sign; 去, ， skipped
    references = ["我家", "学校家", "他学校"]
    named = [
        ["家", "学校", "他"],
        ["学校", "我们", "我"],
        ["我们"],
    ]  # not signed: 学校; 我们, 我; 我们 (他 is: 我's sign)
    outputs = ["我家学校", "学校家我们我", "他学校"]
    assert ZH.hallucinations(outputs, references, named) == {"rate": 3 / 4, "n": 4}
    assert ZH.hallucinations(references, references, named) == {"rate": 0.0, "n": 4}
    assert ZH.hallucinations(references, references, [[], ["家"], ["学校"]]) == {"rate": None, "n": 0}
