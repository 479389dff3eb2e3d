"""A tiny mT5 built locally: a SentencePiece vocabulary trained on given sentences and random weights.

For tests, the demo, benchmarks and ``mmprep train --backbone tiny``, where no pretrained checkpoint can be
downloaded. The folder it writes loads like any checkpoint: ``AutoTokenizer.from_pretrained(folder)``,
``MT5EncoderModel.from_pretrained(folder)``, ``MT5ForConditionalGeneration.from_pretrained(folder)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import MT5Config, MT5ForConditionalGeneration

from .hub import quiet_transformers, t5_tokenizer_from_spiece


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
    seed: int = 0,
) -> Path:
    """Write a randomly initialised ``MT5ForConditionalGeneration`` and its tokenizer to ``out_dir``.

    The tokenizer is a SentencePiece Unigram model trained on ``sentences`` (Chinese, English, any script: every
    character seen becomes a piece; unseen ones map to ``<unk>``), with T5's special tokens ``<pad>``=0,
    ``</s>``=1, ``<unk>``=2 and no extra ids. ``vocab_size`` is the model's vocabulary and an upper bound for
    the tokenizer's (a small corpus yields fewer pieces); it must exceed the number of distinct characters.
    ``max_piece_length`` caps a piece's characters: a small value keeps a vocabulary trained on a few repetitive
    sentences from learning whole phrases (mT5's Chinese pieces are mostly one or two characters).
    The encoder and decoder have ``num_layers`` layers each; ``d_kv`` defaults to ``d_model // num_heads`` and
    ``d_ff`` to ``2 * d_model``. The same sentences and ``seed`` give the same files. Returns ``out_dir``.

    >>> build_tiny_mt5(["我想学习手语。", "The signer waves."], "tiny-mt5", vocab_size=100)   # doctest: +SKIP
    PosixPath('tiny-mt5')
    """
    sentences = [s.strip() for s in sentences if s.strip()]
    if not sentences:
        raise ValueError("build_tiny_mt5 needs at least one non-empty sentence")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spiece = out / "spiece.model"
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
        # transformers initialises mT5's untied output layer with std 1, which gives initial logits of std
        # ~sqrt(d_model) and a first loss far above log(vocab); d_model**-0.5 starts a model trained from scratch
        # near the uniform prediction. (Pretrained checkpoints are unaffected: their weights are loaded.)
        torch.nn.init.normal_(model.lm_head.weight, std=d_model**-0.5)
    with quiet_transformers():
        model.save_pretrained(out)
    return out
