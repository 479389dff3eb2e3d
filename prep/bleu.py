"""BLEU as mmprep scores it: sacrebleu's, with the tokeniser that makes scores compare with a corpus's tables.

Shared by training's dev pass, `mmprep eval` and the synth generator's ceilings; it needs no torch, so
commands that only score (or only build a synth store) start fast.

SLT papers score CSL-Daily with sacrebleu's ``zh`` tokeniser (every Chinese character a token: character-level
BLEU) and PHOENIX-2014T (German) and How2Sign (English) with ``13a``, sacrebleu's default. The choice follows
the store's recorded language (``mmprep prepare`` records it; ``mmprep manifest --language`` too); a store
without one is judged by its references' script (any Chinese character: ``zh``). ``--tokenize`` overrides both.
"""

from __future__ import annotations

import sacrebleu

from .errors import InputError

TOKENIZERS = tuple(sacrebleu.metrics.BLEU.TOKENIZERS)  # what --tokenize accepts: 13a, zh, intl, char, none, ...
# Character-level BLEU for Chinese, as SLT papers on CSL-Daily report it: the default where no language is known.
BLEU_TOKENIZE = "zh"


def corpus_bleu(
    hypotheses: list[str], references: list[str], max_order: int = 4, tokenize: str = BLEU_TOKENIZE
) -> float:
    """sacrebleu corpus BLEU-``max_order`` on its 0-100 scale, with sacrebleu's tokeniser ``tokenize``."""
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize, max_ngram_order=max_order)
    return min(metric.corpus_score(hypotheses, [references]).score, 100.0)  # a perfect score can round past 100


def _is_chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"


def choose(language: str | None, references: list[str], override: str | None = None) -> tuple[str, str]:
    """(sacrebleu tokeniser, why it was chosen); an ``override`` sacrebleu does not know is an InputError."""
    if override:
        if override not in TOKENIZERS:
            raise InputError(f"--tokenize: sacrebleu has no tokeniser {override!r}; use one of {', '.join(TOKENIZERS)}")
        return override, "--tokenize"
    if language:
        return ("zh" if language == "zh" else "13a"), f"the store's language ({language})"
    chinese = any(_is_chinese(c) for reference in references for c in reference)
    return ("zh" if chinese else "13a"), "the references' script (the store records no language)"


def signature(tokenize: str, hypotheses: list[str], references: list[str]) -> str:
    """sacrebleu's signature of corpus BLEU with ``tokenize`` on these sentences (nrefs:1|case:mixed|...)."""
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize)
    metric.corpus_score(hypotheses, [references])
    return str(metric.get_signature())
