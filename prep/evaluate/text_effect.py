"""The text effect: does the model use the description at all? Measured on the videos that have one.

The consistency check (``metrics.consistency``) asks that outputs stay close with and without the description;
a model that ignores the description passes it trivially. So every evaluation states the text effect first:
BLEU-4 of the with-text videos with their description (A) and with the placeholder (B), a paired-bootstrap
interval of A - B, how many outputs the description changes, and, on a synthetic store, the accuracy on the
words only the description can tell apart (``prep.answer_key``) beside the store's ceilings. When the
description changes no output, the consistency verdict is "not applicable".

A - B alone cannot tell a model that reads the description's content from one that reacts to any text, so
beside them stands scenario C, each video with another video's description (``strangers``), and the verdict
reads the three: the content is used when A beats C, the model is misled when C falls below B (intervals clear
of 0). On a synthetic store whose answer key lists what each description names: the hallucination rate
(the share of named words whose sign the video does not show that the output writes, under A and C), and
where C falls below B, how much of the loss the pair words account for (BLEU-4 with a pair's two words
counted as one, its sign: what is left is the rest).
"""

from __future__ import annotations

from ..answer_key import AnswerKey
from ..bleu import corpus_bleu
from .metrics import paired_bootstrap

IGNORED = "the model ignores the description"


def text_effect(
    videos: list[dict], key: AnswerKey | None, split: str, resamples: int, seed: int, tokenize: str
) -> dict | None:
    """The text effect over ``videos`` (the with-text ones, as evaluation records), BLEU with sacrebleu's
    ``tokenize``; None when there are none. ``key`` is the store's answer key (``answer_key.from_metadata``),
    None for a store without one."""
    if not videos:
        return None
    references = [v["reference"] for v in videos]
    hyp_a = [v["hypothesis"] for v in videos]
    hyp_b = [v["hypothesis_without_text"] for v in videos]
    bleu_a, bleu_b = (corpus_bleu(h, references, tokenize=tokenize) for h in (hyp_a, hyp_b))
    changed = sum(a != b for a, b in zip(hyp_a, hyp_b, strict=True))
    effect = {
        "n": len(videos),
        "bleu4_with_text": bleu_a,
        "bleu4_without_text": bleu_b,
        "delta_bleu4": bleu_a - bleu_b,
        "ci": paired_bootstrap(hyp_a, hyp_b, references, resamples, seed, tokenize=tokenize),
        "outputs_changed": changed,
        "ignores_text": changed == 0,
        "ambiguous_accuracy": None,
        "ceilings": None,
    }
    if key is not None:
        with_text, without_text = (key.ambiguous_accuracy(h, references) for h in (hyp_a, hyp_b))
        effect["ambiguous_accuracy"] = {
            "with_text": with_text["accuracy"],
            "without_text": without_text["accuracy"],
            "n": with_text["n"],
        }
        effect["ceilings"] = key.ceilings.get(split)
    effect["stranger"] = stranger_effect(videos, key, resamples, seed, tokenize)
    effect["hallucination"] = hallucination(videos, key) if key else None
    effect["verdict"] = verdict(effect)
    effect["statement"] = statement(effect)
    return effect


def stranger_effect(videos: list[dict], key: AnswerKey | None, resamples: int, seed: int, tokenize: str) -> dict | None:
    """Scenario C beside A and B, with paired-bootstrap intervals of A - C and C - B; None where the videos were
    not translated with a stranger's description (fewer than two have one)."""
    if not videos or any(v.get("hypothesis_stranger_text") is None for v in videos):
        return None
    references = [v["reference"] for v in videos]
    hyp = {s: [v[key] for v in videos] for s, key in
           (("A", "hypothesis"), ("B", "hypothesis_without_text"), ("C", "hypothesis_stranger_text"))}  # fmt: skip
    bleu4 = {s: corpus_bleu(h, references, tokenize=tokenize) for s, h in hyp.items()}
    a_minus_c = paired_bootstrap(hyp["A"], hyp["C"], references, resamples, seed, tokenize=tokenize)
    c_minus_b = paired_bootstrap(hyp["C"], hyp["B"], references, resamples, seed, tokenize=tokenize)
    return {
        "n": len(videos),
        "seed": seed,
        "bleu4": bleu4["C"],
        "a_minus_c": bleu4["A"] - bleu4["C"],
        "ci_a_minus_c": a_minus_c,
        "c_minus_b": bleu4["C"] - bleu4["B"],
        "ci_c_minus_b": c_minus_b,
        "outputs_changed": sum(a != c for a, c in zip(hyp["A"], hyp["C"], strict=True)),
        "uses_content": a_minus_c[0] > 0,
        "misled": c_minus_b[1] < 0,
        "ambiguous_accuracy": key.ambiguous_accuracy(hyp["C"], references)["accuracy"] if key else None,
        "pair_words": _pair_words(key, hyp, references, bleu4, resamples, seed, tokenize) if key else None,
    }


def _pair_words(key: AnswerKey, hyp: dict, references: list[str], bleu4: dict, resamples, seed, tokenize) -> dict:
    """C - B split in two: BLEU-4 with each word of a pair written as its sign (``rest``: what a stranger's
    description costs where the poses can tell), and the difference (``from_pair_words``: which word of a
    signed pair to write, which no model can check against the video)."""
    signs = {s: [key.as_signs(h) for h in hyp[s]] for s in ("B", "C")}
    meant = [key.as_signs(r) for r in references]
    rest = corpus_bleu(signs["C"], meant, tokenize=tokenize) - corpus_bleu(signs["B"], meant, tokenize=tokenize)
    return {
        "rest": rest,
        "ci_rest": paired_bootstrap(signs["C"], signs["B"], meant, resamples, seed, tokenize=tokenize),
        "from_pair_words": bleu4["C"] - bleu4["B"] - rest,
    }


def hallucination(videos: list[dict], key: AnswerKey) -> dict | None:
    """Under A (its own description) and C (a stranger's): the share of the named words whose sign the video
    does not show that the output writes (``rate``), how many there are (``n``), and the share that the output
    without a description writes (``rate_without_text``: what the poses alone produce). None for a store
    whose answer key does not list what each description names."""
    if key.named is None:
        return None
    references = [v["reference"] for v in videos]
    out = {}
    for scenario, hypothesis, whose in (("A", "hypothesis", "id"), ("C", "hypothesis_stranger_text", "stranger")):
        if any(v.get(whose) is None or v.get(hypothesis) is None for v in videos):
            out[scenario] = None
            continue
        words = [key.named.get(v[whose], []) for v in videos]
        rate = key.hallucinations([v[hypothesis] for v in videos], references, words)
        base = key.hallucinations([v["hypothesis_without_text"] for v in videos], references, words)
        out[scenario] = {**rate, "rate_without_text": base["rate"]}
    return out


VERDICTS = {
    "ignores": IGNORED,
    "content_misled": "it reads the description's content, and a wrong description misleads it",
    "content": "it reads the description's content, and a wrong description does not mislead it",
    "misled": "a wrong description misleads it and its own does no better",
    "any_text": "it reacts to any description, not to its content: a stranger's does as well as its own",
    "unclear": "a stranger's description is not shown to do worse than its own",
}


def verdict(effect: dict) -> str | None:
    """Which of ``VERDICTS`` A, B and C say together (intervals clear of 0); None without scenario C."""
    if effect["ignores_text"]:
        return "ignores"
    stranger = effect["stranger"]
    if stranger is None:
        return None
    if stranger["uses_content"]:
        return "content_misled" if stranger["misled"] else "content"
    if stranger["misled"]:
        return "misled"
    return "any_text" if effect["ci"][0] > 0 else "unclear"


def statement(effect: dict) -> str:
    """The text effect in one sentence, for the terminal and the HTML report."""
    n = effect["n"]
    if effect["ignores_text"]:
        return f"{IGNORED}: its output is the same with and without it on all {n} with-text videos"
    lo, hi = effect["ci"]
    text = (
        f"the description changes {effect['outputs_changed']} of {n} outputs; BLEU-4 with it "
        f"{effect['bleu4_with_text']:.2f}, without {effect['bleu4_without_text']:.2f} "
        f"(A - B {effect['delta_bleu4']:+.2f}, 95% CI [{lo:.2f}, {hi:.2f}])"
    )
    accuracy = effect["ambiguous_accuracy"]
    if accuracy and accuracy["with_text"] is not None:
        text += (
            f"; ambiguous words right {accuracy['with_text']:.0%} with it, {accuracy['without_text']:.0%} without "
            "(50% is chance)"
        )
    stranger = effect["stranger"]
    if stranger is not None:
        (ac_lo, ac_hi), (cb_lo, cb_hi) = stranger["ci_a_minus_c"], stranger["ci_c_minus_b"]
        text += (
            f". With another video's description (C) BLEU-4 {stranger['bleu4']:.2f} (A - C {stranger['a_minus_c']:+.2f} "
            f"[{ac_lo:.2f}, {ac_hi:.2f}], C - B {stranger['c_minus_b']:+.2f} [{cb_lo:.2f}, {cb_hi:.2f}]): "
            f"{VERDICTS[effect['verdict']]}"
        )
    return text
