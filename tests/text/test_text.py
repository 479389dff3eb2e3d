"""encode-text and init-mask on tiny mT5 models built locally and loaded through from_pretrained."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
import torch
from helpers import TINY_SENTENCES, snapshot
from safetensors.numpy import load_file
from transformers import AutoTokenizer, BertConfig, MT5EncoderModel, MT5ForConditionalGeneration

import prep
from prep.errors import InputError
from prep.text.encode import encode
from prep.text.hub import folder_hash, load_encoder, load_tokenizer
from prep.text.mask_init import init_mask
from prep.text.tiny_mt5 import build_tiny_mt5

# id, split, translation, description
ROWS = [
    ("t1", "train", "你好", "一位女士在室内打手语。"),
    ("t2", "train", "谢谢", "A man signs slowly, facing the camera."),
    ("t3", "train", "再见", "他穿着蓝色的衬衫，慢慢地打手语。"),
    ("t4", "train", "好", ""),
    ("d1", "dev", "晚安", "The woman waves both hands."),
    ("e1", "test", "早", "一个男人在公园里。"),
]
LONG = "一个男人在公园里向镜头挥手，他穿着蓝色的衬衫。" * 6


def make_store(tmp_path: Path, cli, store_url: str, rows=ROWS) -> str:
    manifest = tmp_path / "manifest.jsonl"
    lines = [{"id": i, "split": s, "translation": t, "description": d} for i, s, t, d in rows]
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    cli("manifest", manifest, "--store", store_url)
    return store_url


def write_descriptions(path: Path, pairs) -> Path:
    path.write_text("".join(json.dumps({"id": i, "description": d}, ensure_ascii=False) + "\n" for i, d in pairs),
                    encoding="utf-8")  # fmt: skip
    return path


@cache
def reference(model_dir: Path):
    return AutoTokenizer.from_pretrained(model_dir), MT5EncoderModel.from_pretrained(model_dir).eval()


def direct(model_dir: Path, text: str, pooling: str = "mean", max_length: int = 512) -> np.ndarray:
    """The pooled feature of one text computed straight from transformers: no batch, no padding, no mask."""
    tokenizer, model = reference(model_dir)
    inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)
    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state[0]
    return {"mean": hidden.mean(0), "first": hidden[0], "max": hidden.max(0).values}[pooling].numpy()


# ---------------------------------------------------------------------- the tiny model
def test_tiny_mt5_loads_like_a_checkpoint(tiny_mt5):
    tokenizer = AutoTokenizer.from_pretrained(tiny_mt5)
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    for sentence in ("我想学习手语。", "The woman waves both hands."):
        ids = tokenizer(sentence).input_ids
        assert ids[-1] == 1 and 2 not in ids and len(ids) > 3
        assert tokenizer.decode(ids, skip_special_tokens=True) == sentence
    assert tokenizer("陌生").input_ids[:-1].count(2) >= 1  # unseen characters are <unk>

    encoder = MT5EncoderModel.from_pretrained(tiny_mt5)
    assert encoder.config.d_model == 32
    seq2seq = MT5ForConditionalGeneration.from_pretrained(tiny_mt5)
    assert seq2seq.config.vocab_size >= len(tokenizer)
    batch = tokenizer(["一位女士在室内打手语。"], return_tensors="pt")
    loss = seq2seq(**batch, labels=tokenizer(["你好"], return_tensors="pt").input_ids).loss
    assert torch.isfinite(loss)


def test_tiny_mt5_is_deterministic(tmp_path, tiny_mt5):
    again = build_tiny_mt5(TINY_SENTENCES, tmp_path / "again", vocab_size=300, d_model=32)
    other = build_tiny_mt5(TINY_SENTENCES, tmp_path / "other", vocab_size=300, d_model=32, seed=1)
    assert (again / "tokenizer.json").read_bytes() == (tiny_mt5 / "tokenizer.json").read_bytes()
    weights, same, different = (load_file(d / "model.safetensors") for d in (tiny_mt5, again, other))
    assert all(np.array_equal(weights[k], same[k]) for k in weights)
    assert not np.array_equal(weights["shared.weight"], different["shared.weight"])
    assert folder_hash(again) == folder_hash(tiny_mt5) != folder_hash(other)


def test_a_tokenizer_padded_to_a_real_size_cuts_text_as_the_trained_one(tmp_path, tiny_mt5):
    padded = build_tiny_mt5(TINY_SENTENCES, tmp_path / "padded", vocab_size=2_100, pieces=2_050, d_model=8)
    trained, larger = load_tokenizer(str(tiny_mt5)), load_tokenizer(str(padded))
    assert len(larger) == 2_050 and len(trained) < 300
    processor = spm.SentencePieceProcessor(model_file=str(padded / "spiece.model"))
    assert processor.get_piece_size() == 2_050  # a valid SentencePiece model, as google/mt5-* ship
    for text in TINY_SENTENCES:  # the filler pieces never replace trained ones
        assert larger.tokenize(text) == trained.tokenize(text)
    unk = trained.unk_token_id
    assert unk in trained("丁").input_ids and unk not in larger("丁").input_ids  # unseen characters have pieces
    with pytest.raises(ValueError, match="at least as many"):
        build_tiny_mt5(TINY_SENTENCES, tmp_path / "x", vocab_size=1_000, pieces=2_000)


def test_sentencepiece_only_checkpoint_tokenizes_like_sentencepiece(tmp_path, tiny_mt5):
    """google/mt5-* ship spiece.model without tokenizer.json; the loader converts it (protobuf 4 compatible)."""
    folder = tmp_path / "spiece-only"
    shutil.copytree(tiny_mt5, folder, ignore=shutil.ignore_patterns("tokenizer.json"))
    tokenizer = load_tokenizer(str(folder))
    processor = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    for text in ["一位女士在室内打手语。", "The  woman waves, ＡＢＣ", "陌生的字", *TINY_SENTENCES]:
        assert tokenizer(text).input_ids == [*processor.encode(text), 1]


# ---------------------------------------------------------------------- encoding
@pytest.mark.parametrize("pooling", ["mean", "first", "max"])
def test_pooled_features_equal_a_direct_computation(tmp_path, cli, store_url, tiny_mt5, pooling):
    make_store(tmp_path, cli, store_url)
    cli("encode-text", "--store", store_url, "--model", tiny_mt5, "--pooling", pooling, "--batch-size", 2)
    store = prep.open_store(store_url)
    features = store.text_features
    assert features.dtype == np.float32 and features.shape == (6, 32)
    for i, (_, _, _, description) in enumerate(ROWS):
        if description:
            np.testing.assert_allclose(features[i], direct(tiny_mt5, description, pooling), atol=1e-5)
        else:
            assert not store.has_text[i] and not features[i].any()
    assert store.has_text.tolist() == [True, True, True, False, True, True]
    assert store.descriptions[0] == ROWS[0][3]


@pytest.mark.parametrize("pooling", ["mean", "first", "max"])
def test_padding_never_counts(tiny_mt5, pooling):
    encoder = load_encoder(str(tiny_mt5), device="cpu")
    short = "我想学习手语。"
    assert len(encoder.tokenizer(LONG).input_ids) > 5 * len(encoder.tokenizer(short).input_ids)
    alone = encode(encoder, [short], pooling=pooling).features[0]
    batch = encode(encoder, [LONG, short, LONG[:40]], pooling=pooling, batch_size=3).features
    np.testing.assert_allclose(batch[1], alone, atol=1e-5)
    unsorted = encode(encoder, [LONG, short, LONG[:40]], pooling=pooling, batch_size=3, sort_by_length=False)
    np.testing.assert_allclose(unsorted.features, batch, atol=1e-5)


def test_keep_tokens_stores_every_token(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    cli("encode-text", "--store", store_url, "--model", tiny_mt5, "--keep-tokens")
    store = prep.open_store(store_url)
    tokenizer, model = reference(tiny_mt5)
    for video_id, _, _, description in ROWS:
        tokens = store.token_features(video_id)
        if not description:
            assert tokens is None
            continue
        with torch.no_grad():
            expected = model(**tokenizer(description, return_tensors="pt")).last_hidden_state[0].numpy()
        np.testing.assert_allclose(tokens, expected, atol=1e-5)
        np.testing.assert_allclose(tokens.mean(0), store.text_features[store.row(video_id)], atol=1e-5)
    assert store.text_provenance["keep_tokens"] is True


def test_provenance_is_recorded_and_valid(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    descriptions = write_descriptions(tmp_path / "d.jsonl", [(i, d) for i, _, _, d in ROWS])
    out = cli("encode-text", descriptions, "--store", store_url, "--model", tiny_mt5, "--max-length", 64).output
    assert "encoded 5 of 6 videos' descriptions" in out and "32-d, mean pooling, float32 on cpu" in out
    provenance = prep.open_store(store_url).text_provenance
    assert provenance == {
        **provenance,
        "model": str(tiny_mt5.resolve()),
        "revision": folder_hash(tiny_mt5),
        "pooling": "mean",
        "max_length": 64,
        "dtype": "float32",
        "device": "cpu",
        "dim": 32,
        "n_with_text": 5,
        "n_empty": 1,
        "n_truncated": 0,
        "source": str(descriptions.resolve()),
        "keep_tokens": True,  # the default: token fusion reads them
    }
    assert len(provenance["revision"]) == 64
    assert cli("validate", "--store", store_url).output.strip().endswith("valid")
    info = json.loads(cli("info", "--json", "--store", store_url).output)
    assert info["text"] == provenance and info["with_text"] == {"total": 5, "train": 3, "dev": 1, "test": 1}
    assert "5 descriptions, 32-d, mean pooling" in cli("info", "--store", store_url).output


def test_encodes_the_store_description_column_without_a_file(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    out = cli("encode-text", "--store", store_url, "--model", tiny_mt5).output
    assert "encoded 5 of 6" in out and "without text: 1 video(s), 0 of them with an empty" in out
    store = prep.open_store(store_url)
    assert store.text_provenance["source"] == "videos/description"
    assert store.descriptions == [d for *_, d in ROWS]


def test_reencoding_with_another_model_replaces_the_features_and_stales_mask_init(
    tmp_path, cli, store_url, tiny_mt5, other_mt5
):
    make_store(tmp_path, cli, store_url)
    cli("encode-text", "--store", store_url, "--model", tiny_mt5)
    cli("init-mask", "--store", store_url)
    assert prep.open_store(store_url).mask_init_info["current"]
    out = cli("encode-text", "--store", store_url, "--model", other_mt5).output
    assert "mask_init is stale now" in out
    store = prep.open_store(store_url)
    assert store.text_generation == 2 and store.text_features.shape == (6, 48)
    assert store.text_provenance["model"] == str(other_mt5.resolve())
    assert store.mask_init_info["current"] is False and store.mask_init.shape == (32,)
    assert "STALE" in cli("info", "--store", store_url).output
    assert cli("validate", "--store", store_url).output.strip().endswith("valid")
    cli("init-mask", "--store", store_url)
    store = prep.open_store(store_url)
    assert store.mask_init_info["current"] and store.mask_init.shape == (48,)


# ---------------------------------------------------------------------- bad input
def test_unknown_ids_are_listed_and_skipped_only_when_asked(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    path = write_descriptions(tmp_path / "d.jsonl", [("t1", "我想学习手语。"), ("ghost", "x"), ("nobody", "y")])
    before = snapshot(store_url)
    result = cli("encode-text", path, "--store", store_url, "--model", tiny_mt5, expect=1)
    assert "2 id(s) are not in" in result.output and "ghost, nobody" in result.output
    assert "--ignore-unknown" in result.output
    assert snapshot(store_url) == before
    out = cli("encode-text", path, "--store", store_url, "--model", tiny_mt5, "--ignore-unknown").output
    assert "skipped 2 id(s)" in out
    assert prep.open_store(store_url).has_text.tolist() == [True, False, False, False, False, False]


def test_duplicate_ids_are_refused(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    path = write_descriptions(tmp_path / "d.jsonl", [("t1", "a"), ("t2", "b"), ("t1", "c")])
    result = cli("encode-text", path, "--store", store_url, "--model", tiny_mt5, expect=1)
    assert "d.jsonl:3: id: duplicate id 't1' (first on line 1)" in result.output
    assert prep.open_store(store_url).text_generation is None


def test_empty_descriptions_count_as_no_text(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    path = write_descriptions(tmp_path / "d.jsonl", [("t1", "我想学习手语。"), ("t2", ""), ("t3", " \t　")])
    out = cli("encode-text", path, "--store", store_url, "--model", tiny_mt5).output
    assert "without text: 5 video(s), 2 of them with an empty or whitespace-only description" in out
    store = prep.open_store(store_url)
    assert store.has_text.tolist() == [True, False, False, False, False, False]
    assert store.text_provenance["n_empty"] == 2 and not store.text_features[1:].any()


def test_long_descriptions_are_truncated_and_counted(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    path = tmp_path / "d.csv"
    path.write_text(f"id,description\nt1,{LONG}\nt2,我想学习手语。\nd1,{LONG}\n", encoding="utf-8")
    out = cli(
        "encode-text", path, "--store", store_url, "--model", tiny_mt5, "--max-length", 12, "--keep-tokens"
    ).output
    assert "truncated at 12 tokens: 2 (t1, d1)" in out
    store = prep.open_store(store_url)
    assert store.text_provenance["n_truncated"] == 2
    assert len(store.token_features("t1")) == 12 and len(store.token_features("t2")) < 12
    np.testing.assert_allclose(store.text_features[0], direct(tiny_mt5, LONG, max_length=12), atol=1e-5)


def not_an_encoder(tmp_path, tiny_mt5):
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(
        tmp_path / "bert"
    )
    return tmp_path / "bert"


def no_weights(tmp_path, tiny_mt5):
    shutil.copytree(tiny_mt5, tmp_path / "no-weights", ignore=shutil.ignore_patterns("*.safetensors"))
    return tmp_path / "no-weights"


def wrong_weights(tmp_path, tiny_mt5):
    folder = shutil.copytree(tiny_mt5, tmp_path / "wrong")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "d_ff": 80}))  # the weights have d_ff 64
    return folder


def not_a_model(tmp_path, tiny_mt5):
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


BAD_MODELS = {
    "missing folder": (lambda tmp_path, tiny: tmp_path / "nowhere" / "mt5", "no such folder"),
    "folder without config": (not_a_model, "no config.json there"),
    "not a T5 encoder": (not_an_encoder, "a 'bert' model; encode-text needs a T5-family encoder"),
    "no weights": (no_weights, "cannot load it"),
    "weights of another shape": (wrong_weights, "cannot load it"),
    "hub id offline": (lambda tmp_path, tiny: "google/mt5-no-such-model", "hf download google/mt5-no-such-model"),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_bad_model_is_refused_and_nothing_written(tmp_path, cli, store_url, tiny_mt5, case):
    make_model, expected = BAD_MODELS[case]
    model = make_model(tmp_path, tiny_mt5)
    make_store(tmp_path, cli, store_url)
    before = snapshot(store_url)
    result = cli("encode-text", "--store", store_url, "--model", model, expect=1)
    assert expected in result.output and "Traceback" not in result.output
    assert snapshot(store_url) == before


def test_cuda_asked_for_but_absent(tmp_path, cli, store_url, tiny_mt5, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    make_store(tmp_path, cli, store_url)
    result = cli("encode-text", "--store", store_url, "--model", tiny_mt5, "--device", "cuda", expect=1)
    assert "--device cuda: CUDA is not available" in result.output and "--device cpu" in result.output
    assert prep.open_store(store_url).text_generation is None


def test_a_missing_store_or_missing_descriptions_name_the_command_to_run(tmp_path, cli, store_url, tiny_mt5):
    result = cli("encode-text", "--store", store_url, "--model", tiny_mt5, expect=1)
    assert "mmprep manifest" in result.output and not Path(store_url).exists()
    make_store(tmp_path, cli, store_url, rows=[("t1", "train", "你好", "")])
    result = cli("encode-text", "--store", store_url, "--model", tiny_mt5, expect=1)
    assert "description column" in result.output and "mmprep encode-text descriptions.jsonl" in result.output


# ---------------------------------------------------------------------- init-mask
def test_mask_init_is_the_mean_of_the_train_features(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    cli("encode-text", "--store", store_url, "--model", tiny_mt5)
    result = cli("init-mask", "--store", store_url)
    assert "mask_init = mean of 3 train videos" in result.output
    assert "warning: only 3 train video(s) with text" in result.stderr
    store = prep.open_store(store_url)
    features = store.text_features[:3]  # t1..t3: the train videos with text (t4 has none)
    mean = features.mean(axis=0)
    np.testing.assert_allclose(store.mask_init, mean, rtol=1e-6, atol=1e-7)
    info = store.mask_init_info
    cosine = features @ mean / (np.linalg.norm(features, axis=1) * np.linalg.norm(mean))
    assert info["n_videos"] == 3 and info["split"] == "train" and info["text_generation"] == 1
    assert info["model"] == str(tiny_mt5.resolve())
    assert info["stats"]["norm"] == pytest.approx(np.linalg.norm(mean), rel=1e-5)
    assert info["stats"]["cosine_mean"] == pytest.approx(cosine.mean(), rel=1e-5)
    assert info["stats"]["cosine_std"] == pytest.approx(cosine.std(), rel=1e-4, abs=1e-6)
    assert cli("validate", "--store", store_url).output.strip().endswith("valid")
    assert "mask_init  mean of 3 train videos" in cli("info", "--store", store_url).output


def test_dev_and_test_descriptions_never_change_mask_init(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    pairs = [(i, d) for i, _, _, d in ROWS]
    cli("encode-text", write_descriptions(tmp_path / "a.jsonl", pairs), "--store", store_url, "--model", tiny_mt5)
    cli("init-mask", "--store", store_url)
    first = prep.open_store(store_url).mask_init
    changed = [(i, LONG if i in ("d1", "e1") else d) for i, d in pairs]
    cli("encode-text", write_descriptions(tmp_path / "b.jsonl", changed), "--store", store_url, "--model", tiny_mt5)
    store = prep.open_store(store_url)
    assert not np.allclose(store.text_features[4], direct(tiny_mt5, ROWS[4][3]), atol=1e-3)  # dev did change
    cli("init-mask", "--store", store_url)
    np.testing.assert_allclose(prep.open_store(store_url).mask_init, first, atol=1e-6)


def test_init_mask_refusals(tmp_path, cli, store_url, tiny_mt5):
    make_store(tmp_path, cli, store_url)
    assert "run `mmprep encode-text" in cli("init-mask", "--store", store_url, expect=1).output
    path = write_descriptions(tmp_path / "d.jsonl", [("d1", "我想学习手语。")])
    cli("encode-text", path, "--store", store_url, "--model", tiny_mt5)
    out = cli("init-mask", "--store", store_url, expect=1).output
    assert "none of the 4 train videos" in out and "mmprep encode-text DESCRIPTIONS" in out
    # The command offers train only; the function refuses an evaluation split with the reason.
    out = cli("init-mask", "--store", store_url, "--split", "dev", expect=2).output
    assert "'dev' is not 'train'" in out
    with prep.open_store(store_url, mode="a") as store, pytest.raises(InputError, match=r"training videos only.*leak"):
        init_mask(store, "dev")
    assert prep.open_store(store_url).mask_init_info is None


def test_help_explains_with_examples(cli):
    out = cli("encode-text", "--help").output
    assert "Examples:" in out and "--keep-tokens" in out and "google/mt5-base" in out
    assert "Example:" in cli("init-mask", "--help").output
