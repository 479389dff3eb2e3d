"""The text effect: does the model use the description at all? Measured on the videos that have one.

The consistency check (``metrics.consistency``) asks that outputs stay close with and without the description;
a model that ignores the description passes it trivially. So every evaluation states the text effect first:
BLEU-4 of the with-text videos with their description (A) and with the placeholder (B), a paired-bootstrap
interval of A - B, how many outputs the description changes, and, on a synthetic store, the accuracy on the
words only the description can tell apart (``prep.synth.truth``) beside the store's ceilings. When the
description changes no output, the consistency verdict is "not applicable".
"""

from __future__ import annotations

from ..bleu import corpus_bleu
from ..synth.truth import SynthTruth
from .metrics import paired_bootstrap

IGNORED = "the model ignores the description"


def text_effect(
    videos: list[dict], synth: dict | None, split: str, resamples: int, seed: int, tokenize: str
) -> dict | None:
    """The text effect over ``videos`` (the with-text ones, as evaluation records), BLEU with sacrebleu's
    ``tokenize``; None when there are none. ``synth`` is the store's answer key (``Store.synth``) or None."""
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
    if synth is not None:
        truth = SynthTruth.of(synth)
        with_text, without_text = (truth.ambiguous_accuracy(h, references) for h in (hyp_a, hyp_b))
        effect["ambiguous_accuracy"] = {
            "with_text": with_text["accuracy"],
            "without_text": without_text["accuracy"],
            "n": with_text["n"],
        }
        effect["ceilings"] = synth["ceilings"].get(split)
    effect["statement"] = statement(effect)
    return effect


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
    return text
