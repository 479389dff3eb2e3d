"""An mT5 built locally: a SentencePiece vocabulary trained on given sentences and random weights.

For tests, the demo, benchmarks and ``mmprep train --backbone tiny``, where no pretrained checkpoint can be
downloaded; and at the size of a real checkpoint (``MT5_BASE``, ``scripts/bench_real_size.py``), to measure what
a user's model costs. The folder it writes loads like any checkpoint: ``AutoTokenizer.from_pretrained(folder)``,
``MT5EncoderModel.from_pretrained(folder)``, ``MT5ForConditionalGeneration.from_pretrained(folder)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
from transformers import MT5Config, MT5ForConditionalGeneration
from transformers.utils import sentencepiece_model_pb2_new as model_pb2  # works with protobuf 4 and 5

from .hub import quiet_transformers, t5_tokenizer_from_spiece

TIE = "tie_word_embeddings"

# google/mt5-base's shape: its config.json, and its tokenizer's 250,100 pieces (the model's vocabulary is padded
# to 250,112 rows). Its output layer (lm_head) is a matrix of its own, not the input embedding.
MT5_BASE = dict(d_model=768, num_layers=12, num_heads=12, d_kv=64, d_ff=2048, vocab_size=250_112, pieces=250_100)


def build_tiny_mt5(
    sentences: Iterable[str],
    out_dir: str | Path,
    *,
    vocab_size: int = 1000,
    d_model: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    d_kv: int | None = None,
    d_ff: int | None = None,
    max_piece_length: int = 16,
    pieces: int | None = None,
    untied_head: bool = False,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised ``MT5ForConditionalGeneration`` and its tokenizer to ``out_dir``.

    The tokenizer is a SentencePiece Unigram model trained on ``sentences`` (Chinese, English, any script: every
    character seen becomes a piece; unseen ones map to ``<unk>``), with T5's special tokens ``<pad>``=0,
    ``</s>``=1, ``<unk>``=2 and no extra ids. ``vocab_size`` is the model's vocabulary and an upper bound for
    the tokenizer's (a small corpus yields fewer pieces); it must exceed the number of distinct characters.
    ``pieces`` makes the tokenizer exactly that large (at most ``vocab_size``): after the trained pieces come
    filler pieces (CJK characters, then pairs of them) scored below any two trained pieces together, so the
    sentences are cut as before while the tokenizer is a real one of that size (google/mt5-base has 250,100).
    ``max_piece_length`` caps a piece's characters: a small value keeps a vocabulary trained on a few repetitive
    sentences from learning whole phrases (mT5's Chinese pieces are mostly one or two characters).
    The encoder and decoder have ``num_layers`` layers each; ``d_kv`` defaults to ``d_model // num_heads`` and
    ``d_ff`` to ``2 * d_model``. ``untied_head`` gives the output layer a matrix of its own, as google/mt5-*
    checkpoints have (transformers builds mT5 from a config with the output layer tied to the input embedding).
    The same sentences and ``seed`` give the same files. Returns ``out_dir``.

    >>> build_tiny_mt5(["我想学习手语。", "The signer waves."], "tiny-mt5", vocab_size=100)   # doctest: +SKIP
    PosixPath('tiny-mt5')
    """
    sentences = [s.strip() for s in sentences if s.strip()]
    if not sentences:
        raise ValueError("build_tiny_mt5 needs at least one non-empty sentence")
    if pieces is not None and pieces > vocab_size:
        raise ValueError(f"a tokenizer of {pieces} pieces needs a vocabulary of at least as many, not {vocab_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spiece = out / "spiece.model"
    _train_spiece(sentences, spiece, vocab_size, max_piece_length, seed)
    if pieces is not None:
        _pad_pieces(spiece, pieces, seed)
    t5_tokenizer_from_spiece(spiece).save_pretrained(out)

    config = MT5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_kv or d_model // num_heads,
        d_ff=d_ff or 2 * d_model,
        num_layers=num_layers,
        num_heads=num_heads,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        model = MT5ForConditionalGeneration(config)
        if untied_head:
            untie_output_layer(model)
        # transformers initialises mT5's output layer with std 1, which gives initial logits of std ~sqrt(d_model)
        # and a first loss far above log(vocab); d_model**-0.5 starts a model trained from scratch near the
        # uniform prediction. (Pretrained checkpoints are unaffected: their weights are loaded.)
        torch.nn.init.normal_(model.lm_head.weight, std=d_model**-0.5)
    with quiet_transformers():
        model.save_pretrained(out)
    record_tying(model, out)
    return out


def untie_output_layer(model: MT5ForConditionalGeneration) -> None:
    """Give ``model`` an output layer of its own (a copy of the input embedding), as google/mt5-* checkpoints
    have and as ``from_pretrained`` keeps them when the two matrices differ; the input embeddings of encoder
    and decoder stay one matrix."""
    model.lm_head.weight = torch.nn.Parameter(model.shared.weight.detach().clone())
    model.all_tied_weights_keys.pop("lm_head.weight", None)  # or save_pretrained would write it as tied


def output_layer_tied(model: MT5ForConditionalGeneration) -> bool:
    return model.get_output_embeddings().weight is model.get_input_embeddings().weight


def record_tying(model: MT5ForConditionalGeneration, folder: str | Path) -> None:
    """Write into ``folder/config.json`` whether the output layer is the input embedding, as google/mt5-* configs
    say it (``tie_word_embeddings: false``). transformers 5 reads mT5's value as true whatever it is, and
    ``save_pretrained`` writes true; ``saved_tying`` reads what this wrote."""
    path = Path(folder) / "config.json"
    values = json.loads(path.read_text(encoding="utf-8"))
    values[TIE] = output_layer_tied(model)
    path.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def saved_tying(folder: str | Path) -> bool:
    """Whether ``folder/config.json`` says the output layer is the input embedding (true where it does not say)."""
    return bool(json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get(TIE, True))


def _train_spiece(sentences: list[str], spiece: Path, vocab_size: int, max_piece_length: int, seed: int) -> None:
    spm.set_random_generator_seed(seed)
    try:
        with spiece.open("wb") as writer:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=writer,
                model_type="unigram",
                vocab_size=vocab_size,
                character_coverage=1.0,
                max_sentencepiece_length=max_piece_length,
                hard_vocab_limit=False,
                pad_id=0,
                eos_id=1,
                unk_id=2,
                bos_id=-1,
                num_threads=1,  # one thread: the same pieces on every run
                minloglevel=2,
            )
    except RuntimeError as e:
        raise ValueError(f"cannot train a {vocab_size}-piece vocabulary on these sentences: {e}") from e


CJK = range(0x4E00, 0xA000)  # the CJK Unified Ideographs block: 20,992 characters


def _pad_pieces(spiece: Path, pieces: int, seed: int) -> None:
    """Append filler pieces to the SentencePiece model ``spiece`` until it has ``pieces``: the CJK characters it
    lacks, then pairs of CJK characters in a seeded order. Their scores lie below twice the lowest trained score,
    so no filler piece ever replaces trained pieces where those can cut a text."""
    proto = model_pb2.ModelProto()
    proto.ParseFromString(spiece.read_bytes())
    have = {piece.piece for piece in proto.pieces}
    needed = pieces - len(proto.pieces)
    if needed < 0:
        raise ValueError(f"the trained vocabulary already has {len(proto.pieces)} pieces, more than {pieces}")
    filler = [c for c in map(chr, CJK) if c not in have][:needed]
    rng, seen = np.random.default_rng(seed), have.union(filler)
    while len(filler) < needed:  # pairs: a pair may repeat or be a trained piece, so draw a few more
        for first, second in rng.integers(CJK.start, CJK.stop, size=(needed - len(filler) + 16, 2)).tolist():
            pair = chr(first) + chr(second)
            if pair not in seen and len(filler) < needed:
                seen.add(pair)
                filler.append(pair)
    floor = 2 * min(piece.score for piece in proto.pieces if piece.type == piece.NORMAL) - 1.0
    for i, text in enumerate(filler):
        proto.pieces.add(piece=text, score=floor - i * 1e-6, type=model_pb2.ModelProto.SentencePiece.NORMAL)
    proto.trainer_spec.vocab_size = pieces
    spiece.write_bytes(proto.SerializeToString())
