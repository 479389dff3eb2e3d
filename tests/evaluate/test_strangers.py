"""Scenario C: each with-text video with another's description, the verdict of A, B and C together, and on a
synthetic store the hallucination rate and the pair words' share of C - B."""

from __future__ import annotations

import numpy as np
import pytest

import prep
from prep.answer_key import from_metadata
from prep.data.dataset import collate
from prep.evaluate import metrics as m
from prep.evaluate.strangers import StrangerTexts, derangement
from prep.evaluate.text_effect import text_effect

PAIRS = [["我", "他"]]
SYNTH = {"words": ["我", "他", "家", "学校", "医院", "吃"], "ambiguous_pairs": PAIRS, "config": {"language": "zh"},
         "ceilings": {"test": None}}  # fmt: skip


def test_a_derangement_gives_no_video_its_own_and_every_description_once():
    for n in range(2, 30):
        donor = derangement(n, seed=n)
        assert sorted(donor) == list(range(n)) and all(donor != np.arange(n))
        seen, i = {0}, int(donor[0])  # one cycle through all videos
        while i != 0:
            seen.add(i)
            i = int(donor[i])
        assert len(seen) == n
    assert list(derangement(20, 0)) == list(derangement(20, 0)) != list(derangement(20, 1))
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1, 0)


def test_the_stranger_batch_holds_each_with_text_videos_poses_and_anothers_description(synth_store):
    data = prep.PoseDataset(synth_store, split="train")
    strangers = StrangerTexts(data, range(len(data)), seed=0)
    described = [data.ids[i] for i in range(len(data)) if data.has_text[i]]
    assert sorted(strangers.donor_of) == sorted(described) == sorted(strangers.donor_of.values())
    assert all(video != donor for video, donor in strangers.donor_of.items())
    batch = collate(data.__getitems__(list(range(16))))
    rows, other = strangers.batch(batch)
    assert rows == [i for i in range(16) if batch["has_text"][i]] and other["has_text"].all()
    for k, row in enumerate(rows):
        donor = data.ids.index(strangers.donor_of[batch["ids"][row]])
        np.testing.assert_array_equal(other["text"][k].numpy(), data.text_of(donor)[0])
        assert not np.array_equal(other["text"][k].numpy(), batch["text"][row].numpy())
        assert other["ids"][k] == batch["ids"][row] and other["translations"][k] == batch["translations"][row]
        assert (other["keypoints"][k] == batch["keypoints"][row]).all()
    assert not StrangerTexts(data, range(1), seed=0)  # one video: no stranger to take a description from


def records(a: list[str], b: list[str], c: list[str], references: list[str]) -> list[dict]:
    n = len(references)
    return [{"id": f"v{i}", "reference": references[i], "hypothesis": a[i], "hypothesis_without_text": b[i],
             "hypothesis_stranger_text": c[i], "stranger": f"v{(i + 1) % n}"} for i in range(n)]  # fmt: skip


REFERENCES = ["我家学校", "他吃医院", "学校我吃", "家他医院", "医院吃我家"] * 8
GUESS = [r.replace("他", "我") for r in REFERENCES]  # the poses alone: always the same word of the pair
MISLED = ["医院吃" + g for g in GUESS]  # words a stranger's description named, and the guess


def effect(a, b, c, named=None) -> dict:
    synth = {**SYNTH, "descriptions": named} if named is not None else SYNTH
    return text_effect(records(a, b, c, REFERENCES), from_metadata(synth), "test", 200, 0, "zh")


@pytest.mark.parametrize(("c", "verdict"), [
    (GUESS, "content"),  # a stranger's description does no harm and no good: it reads its own
    (REFERENCES, "any_text"),  # a stranger's does as well as its own: it reacts to any text
    (MISLED, "content_misled"),  # a stranger's makes it worse than none
])  # fmt: skip
def test_the_verdict_reads_a_b_and_c_together(c, verdict):
    found = effect(REFERENCES, GUESS, c)
    assert found["verdict"] == verdict
    assert found["stranger"]["uses_content"] == (verdict != "any_text")
    assert found["stranger"]["misled"] == (verdict == "content_misled")


def test_c_below_b_is_split_into_the_pair_words_and_the_rest():
    wrong_pair_word = [r.replace("我", "他") for r in REFERENCES]  # a stranger named the pair's other word
    split = effect(REFERENCES, REFERENCES, wrong_pair_word)["stranger"]["pair_words"]
    assert split["rest"] == 0.0 and split["ci_rest"] == [0.0, 0.0]
    c_minus_b = m.bleu(wrong_pair_word, REFERENCES)["4"] - 100.0
    assert split["from_pair_words"] == pytest.approx(c_minus_b) and c_minus_b < 0
    split = effect(REFERENCES, REFERENCES, [r + "吃吃" for r in REFERENCES])["stranger"]["pair_words"]  # words added
    assert split["rest"] < 0 and split["from_pair_words"] == pytest.approx(0.0, abs=1e-9)


def test_the_hallucination_rate_counts_named_words_the_video_does_not_sign():
    # each description names one word whose sign its video does not show, and its stranger's is the next video's
    named = {
        f"v{i}": ["吃" if "吃" not in r else "学校" if "学校" not in r else "家"] for i, r in enumerate(REFERENCES)
    }
    with_named = [r + named[f"v{i}"][0] for i, r in enumerate(REFERENCES)]  # A writes what its description names
    found = effect(with_named, REFERENCES, REFERENCES, named)["hallucination"]
    assert found["A"] == {"rate": 1.0, "n": len(REFERENCES), "rate_without_text": 0.0}
    # under C, the next video's named word: absent from this video only where this video does not sign it
    absent = sum(named[f"v{(i + 1) % 40}"][0] not in r for i, r in enumerate(REFERENCES))
    assert found["C"] == {"rate": 0.0, "n": absent, "rate_without_text": 0.0} and absent > 0
    assert effect(REFERENCES, REFERENCES, REFERENCES)["hallucination"] is None  # the answer key lists nothing
