"""The real size's paths at a mid size: d_model 256, a 32,128-row vocabulary (a 32,100-piece tokenizer) and an
output layer of its own, as google/mt5-base has (scripts/bench_real_size.py runs the real size): the backbone
given as a user's download is (--backbone PATH, --model PATH), the text prior, its coverage and the token prior
over the whole vocabulary in training and in greedy and beam decoding, bf16 autocast on the CPU, and the
checkpoint, evaluation and export of an untied backbone."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from train_helpers import metrics

import prep
from prep.cli import main
from prep.evaluate.loading import load_run
from prep.inference.export import load_export
from prep.text.tiny_mt5 import build_tiny_mt5, output_layer_tied
from prep.train import checkpoint

MID = dict(d_model=256, num_layers=1, num_heads=4, vocab_size=32_128, pieces=32_100)
RUN = ("--max-steps", 2, "--batch-size", 4, "--max-target-length", 12, "--eval-max-videos", 2, "--device", "cpu",
       "--prior-tokens", "--log-every", 1)  # fmt: skip


def mmprep(*args) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def mid(tmp_path_factory):
    """(the mid-size backbone's folder, a store whose descriptions it encoded)."""
    folder = tmp_path_factory.mktemp("mid")
    store = str(folder / "store.zarr")
    mmprep(
        "synth", store, "--videos", 24, "--vocab", 8, "--ambiguous-pairs", 1, "--text-ratio", 0.5, "--frames", "30,60"
    )
    texts = [t for c in ("translation", "description") for t in prep.open_store(store).column(c) if t]
    backbone = build_tiny_mt5(texts, folder / "mt5", max_piece_length=2, untied_head=True, **MID)
    mmprep("encode-text", "--store", store, "--model", backbone)
    mmprep("init-mask", "--store", store)
    return backbone, store


def train(mid, run, precision: str):
    backbone, store = mid
    mmprep("train", "--store", store, "--out", run, "--backbone", backbone, "--precision", precision, *RUN)
    return run


@pytest.fixture(scope="module")
def float32_run(mid, tmp_path_factory):
    return train(mid, tmp_path_factory.mktemp("runs") / "float32", "float32")


def test_the_backbone_is_a_real_checkpoints_shape(mid):
    backbone, store = mid
    from transformers import AutoTokenizer, MT5ForConditionalGeneration

    model = MT5ForConditionalGeneration.from_pretrained(backbone)
    assert model.config.vocab_size == 32_128 and len(AutoTokenizer.from_pretrained(backbone)) == 32_100
    assert not output_layer_tied(model) and model.encoder.embed_tokens.weight is model.shared.weight
    assert json.loads((backbone / "config.json").read_text())["tie_word_embeddings"] is False
    assert prep.open_store(store).text_provenance["dim"] == 256


def test_a_run_on_an_untied_backbone_evaluates_and_exports_the_model_it_trained(mid, float32_run, tmp_path):
    store, run, export = mid[1], float32_run, tmp_path / "export"
    best, last = checkpoint.load(run, "best"), checkpoint.load(run, "last")
    assert "optimizer" in last and "optimizer" not in best  # best.pt: for eval and export, a third of last.pt
    saved = best["model"]
    assert not torch.equal(saved["backbone.lm_head.weight"], saved["backbone.shared.weight"])
    loaded = load_run(run, device="cpu").model  # rebuilt from the run's backbone/config.json
    assert not output_layer_tied(loaded.backbone)
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, saved[name]), name
    mmprep("export-model", run, "--out", export)
    exported, *_ = load_export(export, device="cpu")
    for name, value in exported.state_dict().items():
        assert torch.equal(value, saved[name]), name
    # Decoding with the prior and its coverage over all 32,128 tokens, greedy and beam 4: the run and its export
    # translate a video with its description alike.
    data = prep.open_store(store)
    video = next(v for v, d in zip(data.ids, data.column("description"), strict=True) if d)
    xyz, conf = data.pose(video)
    row = data.video(video)
    for beams in (1, 4):
        run_says, export_says = (
            translator.translate_pose(video, xyz, conf, row["width"], row["height"], row["description"])
            for translator in (prep.Translator.from_run(run, beams=beams, device="cpu"),
                               prep.Translator.from_pretrained(export, beams=beams, device="cpu"))
        )  # fmt: skip
        assert run_says["has_text"] and run_says["translation"] == export_says["translation"]
        assert run_says["confidence"] == pytest.approx(export_says["confidence"])


def test_precision_bfloat16_trains_in_bfloat16_on_a_cpu_too(mid, float32_run, tmp_path):
    losses = {}
    for precision, run in (("float32", float32_run), ("bfloat16", train(mid, tmp_path / "bf16", "bfloat16"))):
        first_batch = json.loads((run / "first_batch.json").read_text())
        assert first_batch["finite"]
        losses[precision] = [first_batch["loss"]] + [m["loss"] for m in metrics(run) if "loss" in m]
    for full, half in zip(losses["float32"], losses["bfloat16"], strict=True):
        assert half != full and half == pytest.approx(full, rel=0.02)  # bf16's rounding, nothing more


def test_gradient_checkpointing_recomputes_the_backbone_and_changes_no_loss(mid, float32_run, tmp_path, monkeypatch):
    import transformers.modeling_utils as hf  # the torch.utils.checkpoint.checkpoint that transformers 5 calls

    calls = []
    original = hf.checkpoint
    monkeypatch.setattr(hf, "checkpoint", lambda *a, **k: calls.append(1) or original(*a, **k))
    run = tmp_path / "checkpointed"
    backbone, store = mid
    mmprep("train", "--store", store, "--out", run, "--backbone", backbone, "--precision", "float32",
           "--gradient-checkpointing", *RUN)  # fmt: skip
    assert calls  # every layer of encoder and decoder went through it
    assert [m["loss"] for m in metrics(run) if "loss" in m] == pytest.approx(
        [m["loss"] for m in metrics(float32_run) if "loss" in m], rel=1e-5
    )
