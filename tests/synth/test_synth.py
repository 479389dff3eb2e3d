"""mmprep synth: a real store from the documented generator, deterministic, with truly ambiguous sign pairs."""

from __future__ import annotations

import re

import numpy as np
import pytest
import zarr

import prep
import prep.synth as synth
from prep.answer_key import AnswerKey
from prep.errors import InputError, StoreError
from prep.store import validate
from prep.synth import (
    SynthConfig,
    answer_key,
    describe,
    make_video,
    plan,
    sentence,
    video_pose,
    vocabulary,
    write_synth,
)
from prep.synth.words import LANGUAGES


def arrays(url: str) -> dict[str, np.ndarray]:
    store = prep.open_store(url)
    pose = zarr.open_group(url, mode="r")["pose"]  # the raw arrays, as written
    out = {name: pose[name][:] for name in ("xyz", "conf", "time")}
    for column in ("id", "split", "translation", "gloss", "description", "n_frames", "frame_offset", "status"):
        out[column] = store.column(column)
    return out


def test_same_seed_same_store_other_seed_other_store(tmp_path):
    config = SynthConfig(videos=8, text_ratio=0.5)
    write_synth(str(tmp_path / "a.zarr"), config)
    write_synth(str(tmp_path / "b.zarr"), config)
    write_synth(str(tmp_path / "c.zarr"), SynthConfig(videos=8, text_ratio=0.5, seed=1))
    a, b, c = (arrays(str(tmp_path / f"{x}.zarr")) for x in "abc")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert not np.array_equal(a["translation"], c["translation"])
    assert a["xyz"].shape != c["xyz"].shape or not np.array_equal(a["xyz"], c["xyz"])


def test_ambiguous_pairs_are_identical_in_pose_and_only_them():
    config = SynthConfig(videos=10, vocab=20, ambiguous_pairs=3)
    vocab = vocabulary(config)
    for first in range(0, 6, 2):
        assert vocab.ambiguous(first) == first + 1 and vocab.ambiguous(first + 1) == first
    assert vocab.ambiguous(6) is None
    words = sentence(config, 4)
    with_first, with_second, with_other = words.copy(), words.copy(), words.copy()
    with_first[1], with_second[1], with_other[1] = 2, 3, 7
    xyz_a, conf_a = video_pose(config, 4, with_first, vocab)
    xyz_b, conf_b = video_pose(config, 4, with_second, vocab)
    np.testing.assert_array_equal(xyz_a, xyz_b)
    np.testing.assert_array_equal(conf_a, conf_b)
    xyz_c, _ = video_pose(config, 4, with_other, vocab)
    assert xyz_c.shape != xyz_a.shape or not np.array_equal(xyz_c, xyz_a)


def test_the_store_is_a_valid_store_that_the_dataset_reads(tmp_path, cli):
    url = tmp_path / "synth.zarr"
    output = cli("synth", url, "--videos", 40, "--text-ratio", 0.25, "--seed", 3).output
    assert "40 synthetic videos (40 made, 0 kept)" in output
    cli("validate", "--store", url)
    assert "train 32, dev 4, test 4" in cli("info", "--store", url).output
    store = prep.open_store(str(url))
    split, description = store.column("split"), store.column("description")
    for name, n in (("train", 32), ("dev", 4), ("test", 4)):
        assert ((split == name) & (description != "")).sum() == round(0.25 * n)
    lengths = store.column("n_frames")
    assert lengths.min() >= 50 and lengths.max() <= 300
    for i in range(3):
        words = store.column("gloss")[i].split()
        assert 2 <= len(words) <= 6 and store.column("translation")[i] == "".join(words)
    xyz, conf = store.pose(store.ids[0])
    hands = conf[:, 501:]
    assert 0 < hands.mean() < 1, "hands are seen on some frames and missing on others"
    assert not xyz[:, 501:][hands == 0].any(), "missing points are 0"
    ds = prep.PoseDataset(store, split="dev", cache=True)
    assert len(ds) == 4 and np.isfinite(ds[0]["keypoints"]).all()


def test_text_info_sets_how_many_words_a_description_names():
    def named_share(info: float) -> float:
        config = SynthConfig(videos=60, text_ratio=1.0, text_info=info, language="en")
        named, total = 0, 0
        for row in plan(config):
            _, _, listed = row["description"].partition("The signs include: ")
            listed = listed.rstrip(".").split(", ") if listed else []
            assert all(word in row["gloss"].split() for word in listed)
            named, total = named + len(listed), total + len(row["gloss"].split())
        return named / total

    assert named_share(0.0) == 0
    assert named_share(1.0) == 1
    assert 0.35 < named_share(0.5) < 0.65


def test_an_interrupted_run_continues_to_the_same_store(tmp_path, monkeypatch):
    config = SynthConfig(videos=9)
    monkeypatch.setattr(synth, "COMMIT_EVERY", 4)

    def stop(count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_synth(str(tmp_path / "a.zarr"), config, progress=stop)
    assert (prep.open_store(str(tmp_path / "a.zarr")).column("status") == "ok").sum() == 4
    counts = write_synth(str(tmp_path / "a.zarr"), config)
    assert counts["made"] == 5 and counts["kept"] == 4
    write_synth(str(tmp_path / "b.zarr"), config)
    a, b = arrays(str(tmp_path / "a.zarr")), arrays(str(tmp_path / "b.zarr"))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert validate(prep.open_store(str(tmp_path / "a.zarr"))) == []


def test_refuses_a_store_made_otherwise(tmp_path, cli):
    url = str(tmp_path / "s.zarr")
    write_synth(url, SynthConfig(videos=3))
    with pytest.raises(StoreError, match="not from this synth configuration"):
        write_synth(url, SynthConfig(videos=3, seed=2))
    assert "text_ratio must be in [0, 1]" in cli("synth", tmp_path / "x.zarr", "--text-ratio", 1.5, expect=1).output


def test_one_video_is_made_the_same_alone_or_in_a_run(tmp_path):
    config = SynthConfig(videos=5)
    url = str(tmp_path / "s.zarr")
    write_synth(url, config)
    store = prep.open_store(url)
    alone = make_video(config, 3, vocabulary(config))
    xyz, conf = store.pose("synth000003")
    np.testing.assert_array_equal(xyz, alone.xyz)
    np.testing.assert_array_equal(conf, alone.conf)


def test_frames_draws_each_length_from_the_range_and_leaves_the_default_store_as_it_was(tmp_path, cli):
    url = str(tmp_path / "long.zarr")
    cli("synth", url, "--videos", 12, "--frames", "100,300")
    store = prep.open_store(url)
    lengths = store.column("n_frames")
    assert lengths.min() >= 100 and lengths.max() <= 300 and lengths.max() > 200  # the default's rarely pass 200
    assert store.synth["config"]["frames"] == [100, 300]
    default = plan(SynthConfig(videos=12))
    assert [r["translation"] for r in default] == list(store.column("translation"))  # the same sentences
    # A store written before the option existed is recognised as this configuration's (its fingerprint).
    assert SynthConfig().fingerprint == "synth-ff25a2fb02e66c04"
    assert "not two frame counts" in cli("synth", tmp_path / "x.zarr", "--frames", "100", expect=2).output
    assert "the shorter first" in cli("synth", tmp_path / "y.zarr", "--frames", "300,100", expect=1).output


def _signs(vocab, words) -> set[int]:
    return {int(vocab.sign_of_word[vocab.words.index(w)]) for w in words}


def test_distractors_name_words_whose_sign_the_video_does_not_show():
    config = SynthConfig(videos=80, vocab=12, ambiguous_pairs=4, text_ratio=1.0, text_info=1.0, text_distractors=2)
    vocab = vocabulary(config)
    extra, first = 0, 0
    for i in range(config.videos):
        words = [vocab.words[w] for w in sentence(config, i)]
        named = describe(config, i, words, vocab).named
        unsigned = [w for w in named if int(vocab.sign_of_word[vocab.words.index(w)]) not in _signs(vocab, words)]
        assert sorted(w for w in named if w not in unsigned) == sorted(words)  # text_info 1: every word, once
        available = sum(int(vocab.sign_of_word[v]) not in _signs(vocab, words) for v in range(config.vocab))
        assert len(unsigned) == min(2, available) == len(set(unsigned))
        extra += len(unsigned)
        first += bool(unsigned) and named[0] in unsigned
    assert extra > config.videos and 0 < first < config.videos  # a distractor's place in the list varies


def test_running_text_names_exactly_the_answer_keys_words_in_varied_sentences():
    for language in ("zh", "en"):
        config = SynthConfig(videos=60, text_ratio=1.0, text_info=0.7, text_distractors=1, text_style="sentence",
                             language=language)  # fmt: skip
        truth = AnswerKey(LANGUAGES[language], (), language)  # every word of the language, not only the vocabulary
        vocab, starts = vocabulary(config), set()
        for i in range(config.videos):
            description = describe(config, i, [vocab.words[w] for w in sentence(config, i)], vocab)
            text = description.text
            for scene in synth.SCENES[language]:  # the scene sentence comes from before: it may hold a word ("一")
                text = text.replace(scene, "")
            found = truth.segment(text if language == "zh" else re.sub(r"[.,:]", " ", text))
            assert found == description.named, (description.text, description.named)
            starts.add(text.split()[0] if language == "en" else text[:4])
        assert len(starts) >= 4, "several templates"


def test_errors_name_the_pair_partner_and_lower_the_with_text_ceiling():
    settings = {"videos": 40, "vocab": 10, "ambiguous_pairs": 3, "text_ratio": 1.0, "text_info": 1.0}
    right, wrong = SynthConfig(**settings), SynthConfig(**settings, text_errors=1.0)
    vocab = vocabulary(right)
    pair_words = set(vocab.words[: 2 * right.ambiguous_pairs])
    for i in range(30):
        words = [vocab.words[w] for w in sentence(right, i)]
        named = describe(wrong, i, words, vocab).named
        expected = [vocab.words[vocab.ambiguous(vocab.words.index(w))] if w in pair_words else w
                    for w in describe(right, i, words, vocab).named]  # fmt: skip
        assert named == expected
    ceilings = [answer_key(c, vocab, plan(c, vocab))["ceilings"]["train"] for c in (right, wrong)]
    assert ceilings[1]["pose_only_bleu4"] == ceilings[0]["pose_only_bleu4"]
    assert ceilings[1]["with_text_bleu4"] < ceilings[1]["pose_only_bleu4"] < ceilings[0]["with_text_bleu4"]


def test_the_new_options_at_their_defaults_leave_a_store_as_it_was():
    config = SynthConfig(videos=300, text_ratio=0.5, text_info=0.7, vocab=12, ambiguous_pairs=4)
    assert config.fingerprint == "synth-e9a9dd2d5bfa0178"  # the fingerprint of this store before the options
    assert SynthConfig(videos=300, text_ratio=0.5, text_info=0.7, vocab=12, ambiguous_pairs=4,
                       text_distractors=1).fingerprint != config.fingerprint  # fmt: skip
    row = next(r for r in plan(config) if r["description"])
    assert "视频里打出的词有：" in row["description"]


def test_text_ratio_per_split(tmp_path, cli):
    url = tmp_path / "s.zarr"
    cli("synth", url, "--videos", 100, "--text-ratio", "0.05,0.5,1", "--splits", "0.6,0.2,0.2")
    store = prep.open_store(str(url))
    described = store.column("description") != ""
    counts = {name: int((described & (store.column("split") == name)).sum()) for name in ("train", "dev", "test")}
    assert counts == {"train": 3, "dev": 10, "test": 20}
    assert store.synth["ceilings"]["test"]["n_with_text"] == 20
    output = cli("synth", tmp_path / "x.zarr", "--text-ratio", "0.1,0.2", expect=2).output
    assert "is not three numbers" in output
    assert (
        "text_ratio must be in [0, 1]"
        in cli("synth", tmp_path / "y.zarr", "--text-ratio", "0.1,2,0.1", expect=1).output
    )
    with pytest.raises(InputError, match="text_style must be one of list, sentence"):
        SynthConfig(text_style="prose")
