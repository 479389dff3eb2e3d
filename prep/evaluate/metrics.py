"""Translation quality and the consistency check (docs/missing-modality.md §5), from strings and per-video statistics.

Every BLEU is sacrebleu's, on its 0-100 scale, with the sacrebleu tokeniser ``tokenize`` (``prep.bleu``
chooses it from the store's language: ``zh`` for Chinese, as SLT papers on CSL-Daily report it, ``13a``
otherwise; the default is ``zh``, each Chinese character a token, other scripts split into words).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F
from rouge_score import rouge_scorer, tokenizers
from scipy import stats

from ..bleu import BLEU_TOKENIZE, corpus_bleu

BLEU_ORDERS = (1, 2, 3, 4)
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_LEVEL = 0.95


@dataclass(frozen=True)
class Target:
    """A metric's target from the source design, and how a value meets it (strict inequalities, as written)."""

    threshold: float
    rule: str  # "abs<": |value| < threshold; "<": value < threshold; ">": value > threshold

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.rule == "abs<":
            return abs(value) < self.threshold
        return value < self.threshold if self.rule == "<" else value > self.threshold

    def __str__(self) -> str:
        return {"abs<": "|x| < ", "<": "< ", ">": "> "}[self.rule] + f"{self.threshold:g}"


# docs/missing-modality.md §5. delta BLEU: the source writes "BLEU_A - BLEU_B < 2 %" under the invariant "output with text ~
# output without text"; |delta| is checked, so a model that does much better *without* text fails too.
TARGETS = {
    "delta_bleu": Target(2.0, "abs<"),
    "kl": Target(0.1, "<"),
    "confidence_std": Target(0.05, "<"),
    "spearman": Target(0.9, ">"),
}


def judge(name: str, value: float | None) -> dict:
    """``{"value", "target", "rule", "pass"}`` for consistency metric ``name``."""
    target = TARGETS[name]
    return {"value": value, "target": target.threshold, "rule": str(target), "pass": target.met(value)}


# ---------------------------------------------------------------------------------------------- quality
def bleu(hypotheses: list[str], references: list[str], tokenize: str = BLEU_TOKENIZE) -> dict[str, float]:
    """Corpus BLEU-1..4: BLEU-n is the geometric mean of the 1..n-gram precisions times the brevity penalty."""
    return {str(n): corpus_bleu(hypotheses, references, max_order=n, tokenize=tokenize) for n in BLEU_ORDERS}


def sentence_bleu(hypotheses: list[str], references: list[str], tokenize: str = BLEU_TOKENIZE) -> list[float]:
    """Per-sentence BLEU-4 as ``sacrebleu.sentence_bleu`` computes it (exp smoothing, effective order)."""
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize, effective_order=True)
    return [metric.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)]


class _BleuTokens(tokenizers.Tokenizer):
    """ROUGE on the tokens BLEU counts (rouge-score's own tokenizer drops every non-Latin character)."""

    def __init__(self, tokenize: str):
        self._tokenize = sacrebleu.metrics.BLEU(tokenize=tokenize).tokenizer

    def tokenize(self, text: str) -> list[str]:
        return self._tokenize(text.strip()).split()


def rouge_l(hypotheses: list[str], references: list[str], tokenize: str = BLEU_TOKENIZE) -> float:
    """Mean sentence-level ROUGE-L F1 (rouge-score), x 100, on BLEU's tokens."""
    if not references:
        return 0.0
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_BleuTokens(tokenize))
    scores = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hypotheses, references, strict=True)]
    return 100.0 * float(np.mean(scores))


# ---------------------------------------------------------------------------------------------- teacher forcing
def mixture_log_probs(logits: list[torch.Tensor]) -> torch.Tensor:
    """Log of the mean of the members' softmax distributions [B, L, V] (one member: its log-softmax)."""
    log_probs = torch.stack([F.log_softmax(x.float(), dim=-1) for x in logits])
    return torch.logsumexp(log_probs, dim=0) - np.log(len(logits))


def token_statistics(log_p_a: torch.Tensor, log_p_b: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Per video, over its reference target positions (labels != -100, the closing ``</s>`` included):
    ``kl_sum`` = sum of KL(P_A || P_B) over positions, ``tokens`` = their number, ``confidence_a`` /
    ``confidence_b`` = mean over positions of the largest token probability."""
    real = (labels != -100).float()
    kl = F.kl_div(log_p_b, log_p_a, log_target=True, reduction="none").sum(-1)  # sum_v P_A (log P_A - log P_B)
    tokens = real.sum(1)
    per_video = {
        "kl_sum": (kl * real).sum(1),
        "tokens": tokens,
        "confidence_a": (log_p_a.max(-1).values.exp() * real).sum(1) / tokens.clamp(min=1),
        "confidence_b": (log_p_b.max(-1).values.exp() * real).sum(1) / tokens.clamp(min=1),
    }
    return {key: value.double().cpu().numpy() for key, value in per_video.items()}


# ---------------------------------------------------------------------------------------------- consistency
def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (ties get average ranks); None when either side is constant (undefined)."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(stats.spearmanr(a, b).statistic)


def paired_bootstrap(
    hypotheses_a: list[str],
    hypotheses_b: list[str],
    references: list[str],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    level: float = BOOTSTRAP_LEVEL,
    tokenize: str = BLEU_TOKENIZE,
) -> list[float]:
    """Percentile interval of corpus BLEU_A - BLEU_B over ``resamples`` resamplings of the videos (the same
    videos for A and B in each resample), from a generator seeded with ``seed``."""
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize)
    # Corpus BLEU is a function of its sentences' summed n-gram statistics (what sacrebleu's own significance
    # tests resample); sacrebleu's public API gives them per sentence (a one-sentence corpus score's counts,
    # totals and lengths) and turns a sum back into a score (BLEU.compute_bleu).
    per_sentence = [sentence_statistics(metric, hypotheses, references) for hypotheses in (hypotheses_a, hypotheses_b)]
    rng = np.random.default_rng(seed)
    n = len(references)
    deltas = np.empty(resamples)
    for i in range(resamples):
        pick = rng.integers(0, n, n)
        a, b = (bleu_from_statistics(metric, s[pick].sum(0)) for s in per_sentence)
        deltas[i] = a - b
    tail = (1 - level) / 2 * 100
    return [float(np.percentile(deltas, tail)), float(np.percentile(deltas, 100 - tail))]


def sentence_statistics(metric: sacrebleu.metrics.BLEU, hypotheses: list[str], references: list[str]) -> np.ndarray:
    """int64 [N, 2 + 2 * orders]: per sentence its length, its reference's length, then the matching and the
    total n-gram counts of each order, from sacrebleu's score of the sentence as a corpus of one."""
    rows = []
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        score = metric.corpus_score([hypothesis], [[reference]])
        rows.append([score.sys_len, score.ref_len, *score.counts, *score.totals])
    return np.array(rows, dtype=np.int64).reshape(len(rows), 2 + 2 * metric.max_ngram_order)


def bleu_from_statistics(metric: sacrebleu.metrics.BLEU, summed: np.ndarray) -> float:
    """Corpus BLEU from the sum of ``sentence_statistics`` rows, with ``metric``'s settings."""
    orders = metric.max_ngram_order
    sys_len, ref_len = int(summed[0]), int(summed[1])
    correct, total = summed[2 : 2 + orders].tolist(), summed[2 + orders :].tolist()
    return metric.compute_bleu(
        correct, total, sys_len, ref_len, smooth_method=metric.smooth_method, smooth_value=metric.smooth_value,
        effective_order=metric.effective_order, max_ngram_order=orders,
    ).score  # fmt: skip


def quality(videos: list[dict], tokenize: str = BLEU_TOKENIZE) -> dict:
    """BLEU-1..4 and ROUGE-L of scenario A (``hypothesis``) and B (``hypothesis_without_text``)."""
    references = [v["reference"] for v in videos]
    out = {}
    for suffix in ("", "_without_text"):
        hypotheses = [v["hypothesis" + suffix] for v in videos]
        out["bleu" + suffix] = bleu(hypotheses, references, tokenize)
        out["rouge_l" + suffix] = rouge_l(hypotheses, references, tokenize)
    return out


def consistency(
    videos: list[dict],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    tokenize: str = BLEU_TOKENIZE,
    applicable: bool = True,
) -> dict:
    """The four metrics of docs/missing-modality.md §5 over ``videos``, each judged against its target; ``pass`` when all four
    pass, and the ``verdict``: "pass", "fail", or "not applicable" when the description changes no output (a
    model that ignores it is consistent by construction: ``applicable`` False, and ``pass`` is False too). A video is a dict of ``reference``, ``hypothesis`` (A), ``hypothesis_without_text`` (B),
    ``sentence_bleu`` and ``sentence_bleu_without_text``, ``kl`` (its mean KL over ``tokens`` target positions),
    ``confidence`` and ``confidence_without_text``.

    - ``delta_bleu``: corpus BLEU-4 of A minus that of B, with a paired-bootstrap interval (``ci``);
    - ``kl``: mean over every target token of every video of KL(P_A || P_B) under teacher forcing;
    - ``confidence_std``: population standard deviation over videos of confidence_A - confidence_B;
    - ``spearman``: rank correlation of the videos' sentence BLEU under A and under B."""
    references = [v["reference"] for v in videos]
    hyp_a = [v["hypothesis"] for v in videos]
    hyp_b = [v["hypothesis_without_text"] for v in videos]
    delta = corpus_bleu(hyp_a, references, tokenize=tokenize) - corpus_bleu(hyp_b, references, tokenize=tokenize)
    tokens = sum(v["tokens"] for v in videos)
    kl = sum(v["kl"] * v["tokens"] for v in videos) / tokens if tokens else None
    differences = np.array([v["confidence"] - v["confidence_without_text"] for v in videos])
    rank_a = [v["sentence_bleu"] for v in videos]
    rank_b = [v["sentence_bleu_without_text"] for v in videos]
    metrics = {
        "delta_bleu": {
            **judge("delta_bleu", delta),
            "ci": paired_bootstrap(hyp_a, hyp_b, references, resamples, seed, tokenize=tokenize),
        },
        "kl": judge("kl", kl),
        "confidence_std": judge("confidence_std", float(differences.std())),
        "spearman": judge("spearman", spearman(rank_a, rank_b)),
    }
    passed = applicable and all(m["pass"] for m in metrics.values())
    verdict = ("pass" if passed else "fail") if applicable else "not applicable"
    return {**metrics, "pass": passed, "verdict": verdict}
