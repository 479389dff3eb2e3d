"""The evaluation report as a table for the terminal (and, in Markdown, for READMEs and ablations)."""

from __future__ import annotations

METRIC_NAMES = {
    "delta_bleu": "delta BLEU-4 (A - B)",
    "kl": "KL(P_A || P_B) per token",
    "confidence_std": "std of confidence A - B",
    "spearman": "Spearman of sentence BLEU",
}


CONSISTENCY_DOCS = "docs/missing-modality.md#5-consistency-verification"


def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _judged(metric: dict, name: str) -> str:
    digits = 2 if name == "delta_bleu" else 3
    text = _number(metric["value"], digits)
    if "ci" in metric:
        lo, hi = metric["ci"]
        text += f" [{lo:.2f}, {hi:.2f}]"
    return f"{text} {'pass' if metric['pass'] else 'FAIL'}"


def render(report: dict) -> str:
    """The text effect, translation quality (A and B, all videos and the with-text subset) and the consistency
    check."""
    subset = report["with_text"]
    mode = report["mode"] + (f" alpha={report['alpha']:g}" if report["alpha"] is not None else "")
    mode += f" factor={report['factor']:g}" if report["factor"] is not None else ""
    lines = [
        f"{report['run']} ({report['checkpoint']} checkpoint, step {report['step']}): {report['split']} split, "
        f"{report['n']} videos, {report['n_with_text']} with text; mode {mode}, "
        + ("greedy" if report["beams"] == 1 else f"beam {report['beams']}"),
        "A: real description where present; B: the placeholder for every video. BLEU and ROUGE-L on 0-100.",
        "",
        *_text_effect(report["text_effect"]),
        "",
        f"{'':28}{'all videos':>22}{'with-text videos':>22}",
        f"{'':28}{'A':>11}{'B':>11}{'A':>11}{'B':>11}",
    ]
    rows = [(f"BLEU-{n}", "bleu", str(n)) for n in (1, 2, 3, 4)] + [("ROUGE-L", "rouge_l", None)]
    for label, key, order in rows:
        cells = []
        for part in (report, subset):
            for suffix in ("", "_without_text"):
                value = None if part is None else part[key + suffix]
                cells.append(_number(value if order is None or value is None else value[order]))
        lines.append(f"{label:28}" + "".join(f"{c:>11}" for c in cells))
    lines += ["", f"{'consistency':28}{'target':>10}  {'all videos':<30}{'with-text videos':<30}"]
    for name, label in METRIC_NAMES.items():
        overall = report["consistency"][name]
        within = "n/a" if subset is None else _judged(subset["consistency"][name], name)
        lines.append(f"{label:28}{overall['rule']:>10}  {_judged(overall, name):<30}{within:<30}")
    verdict = _verdict(report["consistency"])
    within = "n/a" if subset is None else _verdict(subset["consistency"])
    lines.append(f"{'all four':28}{'':>10}  {verdict:<30}{within:<30}")
    lines.append(f"(the targets and how each is measured: {CONSISTENCY_DOCS})")
    return "\n".join(lines)


def _verdict(consistency: dict) -> str:
    return {"pass": "pass", "fail": "FAIL"}.get(consistency["verdict"], consistency["verdict"])


def _text_effect(effect: dict | None) -> list[str]:
    if effect is None:
        return ["text effect: no video of this split has a description"]
    lines = [f"text effect: {effect['statement']}"]
    ceilings = effect["ceilings"]
    if ceilings and ceilings.get("pose_only_bleu4") is not None:
        lines.append(
            f"ceilings (synthetic store, {ceilings['n_with_text']} with-text videos of the split): pose only "
            f"{ceilings['pose_only_bleu4']:.2f}, with the description {ceilings['with_text_bleu4']:.2f} BLEU-4"
        )
    return lines + answer_key_lines(effect)


def answer_key_lines(effect: dict) -> list[str]:
    """What a synthetic store's answer key says of scenario C and of words named but not signed."""
    lines, stranger = [], effect.get("stranger")
    if stranger and stranger["ambiguous_accuracy"] is not None:
        lines.append(
            f"ambiguous words right with another video's description (C): {stranger['ambiguous_accuracy']:.0%}"
        )
    split = stranger and stranger["pair_words"]
    if split and stranger["c_minus_b"] < 0:
        lo, hi = split["ci_rest"]
        lines.append(
            f"C - B {stranger['c_minus_b']:+.2f} BLEU-4: {split['from_pair_words']:+.2f} from which word of a signed "
            f"pair it writes, {split['rest']:+.2f} [{lo:.2f}, {hi:.2f}] the rest"
        )
    for scenario, whose in (("A", "its own description"), ("C", "another video's")):
        rate = (effect.get("hallucination") or {}).get(scenario)
        if rate and rate["rate"] is not None:
            lines.append(
                f"hallucination with {whose} ({scenario}): writes {rate['rate']:.1%} of the {rate['n']} named words "
                f"whose sign the video does not show (without a description: {rate['rate_without_text']:.1%})"
            )
    return lines
