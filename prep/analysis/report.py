"""`mmprep report`: one HTML page about a run, from its metrics.jsonl and its evaluations (RUN_DIR/eval/*.json).

The page is written with the PNGs it shows beside it (``report.html``, ``*.png``) and references them by
relative path: the PNGs are wanted as files anyway (slides, papers), the page stays small, and the folder is
self-contained (no script, font or stylesheet from elsewhere), so it can be moved, zipped or opened offline.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from .._version import __version__
from ..evaluate import read
from ..evaluate.metrics import TARGETS
from ..evaluate.summary import METRIC_NAMES
from ..evaluate.text_effect import VERDICTS
from ..model.fusion import TEXT_WEIGHT
from ..train.run_dir import EVAL, read_config, read_metrics
from .answers import Answer, answer, main_evaluation
from .figures import label, plot_consistency, plot_dropout, plot_mask, plot_text_weight, plot_training

REPORT_DIR = "report"
EXAMPLES = 8


def read_evaluations(run_dir: Path) -> list[tuple[Path, dict, list[dict]]]:
    """Every evaluation of the run that finished (its report exists), by file name; predictions written before
    reports recorded the fusion get today's names from the run's (``evaluate.read``)."""
    paths = sorted((run_dir / EVAL).glob("*.json"))
    fusion = read_config(run_dir)["fusion"] if paths else None
    return [(path, *read(path, fusion)) for path in paths]


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans CJK SC", sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 24px; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; max-width: 60em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 4px 9px; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text { text-align: left; max-width: 22em; }
.pass { color: #1a7f1a; font-weight: 600; } .fail { color: #c0392b; font-weight: 600; }
.a { color: #1f77b4; } .b { color: #d46a00; } .note { background: #fff8e1; padding: 8px 12px; }
.answers h2 { font-size: 1.15em; border: none; margin: 0.9em 0 0.2em; } .good { color: #1a7f1a; }
.bad { color: #c0392b; } .open { color: #8a6d00; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _verdict(passed: bool) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def _figure(name: str | None, caption: str) -> str:
    if name is None:
        return f'<p class="note">{_e(caption)}</p>'
    return f'<figure><img src="{_e(name)}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _number(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _evaluation_table(report: dict) -> str:
    subset = report["with_text"]
    rows = ['<tr><th></th><th colspan="2">all videos</th><th colspan="2">with-text videos</th></tr>',
            '<tr><th></th><th class="a">A (text)</th><th class="b">B (placeholder)</th>'
            '<th class="a">A (text)</th><th class="b">B (placeholder)</th></tr>']  # fmt: skip
    for name, key, order in [(f"BLEU-{n}", "bleu", str(n)) for n in (1, 2, 3, 4)] + [("ROUGE-L", "rouge_l", None)]:
        cells = []
        for part in (report, subset):
            for suffix in ("", "_without_text"):
                value = None if part is None else part[key + suffix]
                cells.append(_number(value if order is None or value is None else value[order]))
        rows.append(f"<tr><th>{name}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    quality = "<table>" + "".join(rows) + "</table>"
    rows = ["<tr><th>consistency</th><th>target</th><th>all videos</th><th>with-text videos</th></tr>"]
    for name, title in METRIC_NAMES.items():
        cells = []
        for part in (report, subset):
            if part is None:
                cells.append("n/a")
                continue
            metric = part["consistency"][name]
            text = _number(metric["value"], 2 if name == "delta_bleu" else 3)
            if "ci" in metric:
                text += " [{:.2f}, {:.2f}]".format(*metric["ci"])
            cells.append(f"{text} {_verdict(metric['pass'])}")
        rows.append(f"<tr><th>{_e(title)}</th><td>{_e(TARGETS[name])}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
    verdicts = [_overall(p["consistency"]) if p else "n/a" for p in (report, subset)]
    rows.append(f"<tr><th>all four</th><td></td><td>{verdicts[0]}</td><td>{verdicts[1]}</td></tr>")
    return _text_effect(report["text_effect"]) + quality + "<table>" + "".join(rows) + "</table>"


def _overall(consistency: dict) -> str:
    if consistency["verdict"] == "not applicable":
        return '<span class="fail">not applicable</span> (the description changes no output)'
    return _verdict(consistency["pass"])


def _text_effect(effect: dict | None) -> str:
    """The text effect in words, above the tables: a model that ignores the text is said so, in red."""
    if effect is None:
        return '<p class="note">No video of this split has a description: the text effect cannot be measured.</p>'
    kind = "fail" if effect["ignores_text"] else "text"
    lines = [f'<p><strong>Text effect:</strong> <span class="{kind}">{_e(effect["statement"])}</span>.']
    ceilings = effect["ceilings"]
    if ceilings and ceilings.get("pose_only_bleu4") is not None:
        lines.append(
            f" Ceilings of this synthetic split ({ceilings['n_with_text']} with-text videos): BLEU-4 "
            f"{ceilings['pose_only_bleu4']:.2f} from the poses alone, {ceilings['with_text_bleu4']:.2f} with the "
            "description."
        )
    return "".join(lines) + "</p>"


def _scenario_c(effect: dict | None) -> str:
    """Scenario C beside A and B: whether the model reads the description's content or reacts to any text, and
    on a synthetic store what it writes that the video does not sign."""
    stranger = (effect or {}).get("stranger")
    if stranger is None:
        return ""
    rows = [
        f"<tr><th>BLEU-4, with-text videos</th><td>{_number(effect['bleu4_with_text'])}</td>"
        f"<td>{_number(effect['bleu4_without_text'])}</td><td>{_number(stranger['bleu4'])}</td></tr>",
        "<tr><th>paired differences [95 % CI]</th><td colspan='3' class='text'>A - C {:+.2f} [{:.2f}, {:.2f}]; "
        "C - B {:+.2f} [{:.2f}, {:.2f}]</td></tr>".format(
            stranger["a_minus_c"], *stranger["ci_a_minus_c"], stranger["c_minus_b"], *stranger["ci_c_minus_b"]
        ),
    ]
    accuracy = effect["ambiguous_accuracy"]
    if accuracy and stranger["ambiguous_accuracy"] is not None:
        rows.append(
            f"<tr><th>ambiguous words right</th><td>{_number(accuracy['with_text'])}</td>"
            f"<td>{_number(accuracy['without_text'])}</td><td>{_number(stranger['ambiguous_accuracy'])}</td></tr>"
        )
    rates = effect.get("hallucination") or {}
    if rates:
        cells = []
        for scenario in ("A", "B", "C"):
            rate = rates.get("A" if scenario == "B" else scenario)
            value = rate and rate["rate_without_text" if scenario == "B" else "rate"]
            cells.append("n/a" if value is None else f"{value:.1%} of {rate['n']}")
        rows.append("<tr><th>hallucination rate</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    split = stranger["pair_words"]
    if split and stranger["c_minus_b"] < 0:
        rows.append(
            "<tr><th>C - B split</th><td colspan='3' class='text'>{:+.2f} from which word of a signed pair it writes "
            "(no model can check it against the video), {:+.2f} [{:.2f}, {:.2f}] the rest</td></tr>".format(
                split["from_pair_words"], split["rest"], *split["ci_rest"]
            )
        )
    return (
        f"<p><strong>Scenario C</strong> (each with-text video with another video's description, a fixed "
        f"derangement, seed {stranger['seed']}): {_e(VERDICTS[effect['verdict']])}.</p>"
        '<table><tr><th></th><th class="a">A (its description)</th><th class="b">B (placeholder)</th>'
        "<th>C (another's)</th></tr>" + "".join(rows) + f"</table><p class='meta'>{_e(CAPTIONS['scenario_c'])}</p>"
    )


def _examples(videos: list[dict]) -> str:
    """The with-text videos where A and B differ most in sentence BLEU (ties by id): there text matters."""
    with_text = [v for v in videos if v["has_text"]]
    chosen = sorted(with_text, key=lambda v: (-abs(v["sentence_bleu"] - v["sentence_bleu_without_text"]), v["id"]))
    rows = ['<tr><th>id</th><th>reference</th><th class="a">A (with its description)</th><th>BLEU</th>'
            '<th class="b">B (placeholder)</th><th>BLEU</th></tr>']  # fmt: skip
    for v in chosen[:EXAMPLES]:
        rows.append(
            f'<tr><td class="text">{_e(v["id"])}</td><td class="text">{_e(v["reference"])}</td>'
            f'<td class="text a">{_e(v["hypothesis"]) or "<i>(empty)</i>"}</td><td>{v["sentence_bleu"]:.1f}</td>'
            f'<td class="text b">{_e(v["hypothesis_without_text"]) or "<i>(empty)</i>"}</td>'
            f"<td>{v['sentence_bleu_without_text']:.1f}</td></tr>"
        )
    if len(rows) == 1:
        return '<p class="note">No video of this split has a description, so A and B are the same everywhere.</p>'
    return "<table>" + "".join(rows) + "</table>"


def _code(text: str) -> str:
    """`commands` in an answer's text as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _answers(answers: list[Answer], run_dir: Path, main_eval) -> str:
    """The page's first screen: the two questions and their answers, with the evaluation they come from."""
    if not answers:
        return (
            f'<p class="note">Does this model use the description, and is it worse without it than a model that '
            f"never saw text? Evaluate it first: <code>mmprep eval {_e(run_dir)} --split test</code>, then "
            f"<code>mmprep report {_e(run_dir)}</code> again.</p>"
        )
    parts = [f"<h2>{_e(a.question)}</h2><p><strong class='{a.tone}'>"
             f"{_e(a.verdict.capitalize())}:</strong> {_code(_e(a.text))}.</p>" for a in answers]  # fmt: skip
    parts.append(f'<p class="meta">From {_e(main_eval[0].name)} ({_e(label(main_eval[1]))}); A is with the '
                 "description, B with the placeholder.</p>")  # fmt: skip
    return '<div class="answers">' + "".join(parts) + "</div>"


def _run_summary(config: dict, steps: list[dict], dev: list[dict]) -> str:
    best = max(dev, key=lambda r: r["dev_bleu"], default=None)
    items = [
        ("placeholder", config["placeholder"] + (f" (schedule {config['placeholder_schedule']})"
                                                 if config["placeholder_schedule"] else "")),
        ("fusion", config["fusion"]),
        ("text dropout", config["text_dropout"]),
        ("backbone", config["backbone"]),
        ("steps logged", steps[-1]["step"] if steps else 0),
        ("epochs", config["epochs"]),
        ("lr", config["lr"]),
        ("seed", config["seed"]),
        ("best dev BLEU-4", "n/a" if best is None else f"{best['dev_bleu']:.2f} at step {best['step']}"),
    ]  # fmt: skip
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td class='text'>{_e(v)}</td></tr>" for k, v in items) + "</table>"


CAPTIONS = {
    "training": "Training loss per logged step (left) and dev BLEU-4 after each epoch (right); the best checkpoint "
    "is the one with the highest dev BLEU.",
    "dropout": "Effective text dropout rate p per step (docs/missing-modality.md#2-training-strategies): the share "
    "of with-text samples treated as "
    "missing. Adaptive dropout is nearly constant when every batch has the same with-text share.",
    "text_weight": "How much of the text the fusion lets in (docs/missing-modality.md#6-diagnostics), here {meaning}. "
    "Left: its mean in training over the samples with text and over those without. Right: each evaluated video's: "
    "with-text videos given their description (A) and the placeholder (B), and videos without text. {reading}",
    "mask": "Where the mask embedding is (docs/missing-modality.md#6-diagnostics): how far it moved from its start and how far it lies from the "
    "mean training description, in units of a typical description's distance from that mean (1: as far as a "
    "typical description). The title gives its cosines at the end; pooled features are all close to their mean "
    "in angle, so a cosine stays near 1 while the mask moves (a cosine below 0.7 to the mean is a warning).",
    "no_mask": "This run has no mask embedding (its placeholder is not a mask), so there is no mask plot.",
    "consistency": "Consistency metrics of every evaluation, over all videos and over the with-text videos; green "
    "passes, red fails; dashed: the source's target; delta BLEU with its 95 % paired-bootstrap interval. A model "
    "whose outputs the description never changes meets every target trivially: its verdict is 'not applicable'. "
    "What each metric measures: docs/missing-modality.md#5-consistency-verification.",
    "scenario_c": "The content is used when A beats C, the model is misled when C falls below B (intervals clear of "
    "0). Hallucination rate: of the words the description names whose sign the video does not show, the share the "
    "output writes (under B: the share written without a description, from the poses alone).",
    "scenarios": "Scenario <span class='a'>A</span> gives each video its real description where it has one; "
    "scenario <span class='b'>B</span> gives every video the placeholder. Only the with-text videos can differ "
    "between them, so the with-text columns are the informative ones. BLEU and ROUGE-L are on 0-100 (sacrebleu, "
    "Chinese tokenisation).",
}


# What a fusion's text weight says, for the caption: the gate is the text's way in; a token's share is not.
READING = {
    "gate": "A missing-aware gate should open less without text.",
    "token": "The encoder's attention decides how much of the text step it reads; the share says how large the "
    "step is beside the pose steps, not how much it is read.",
}


def _text_weight_caption(fusion: str) -> str:
    return CAPTIONS["text_weight"].format(meaning=TEXT_WEIGHT[fusion].meaning, reading=READING[fusion])


def write_report(run_dir: str | Path, out: str | Path | None = None, pose_only: str | Path | None = None) -> Path:
    """Write ``report.html`` and its PNGs into ``out`` (default ``RUN_DIR/report``); returns the page's path.
    ``pose_only``: the run of the same configuration trained without text (``--text-dropout 1.0``), evaluated on
    the same split, for the page's second question (``answers.against_pose_only``)."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / REPORT_DIR
    config = read_config(run_dir)
    steps, dev = read_metrics(run_dir)
    evaluations = read_evaluations(run_dir)
    # The answers, the text weight's histogram and the examples come from one evaluation (missing-aware, test if any).
    main_eval = main_evaluation(evaluations)
    answers = answer(run_dir, evaluations, Path(pose_only) if pose_only else None)
    out.mkdir(parents=True, exist_ok=True)
    mask_plot = plot_mask(steps, out)
    parts = [
        f"<h1>mmprep run report: {_e(run_dir.name)}</h1>",
        f'<p class="meta">{_e(run_dir.resolve())} &middot; mmprep {_e(__version__)}</p>',
        _answers(answers, run_dir, main_eval),
        "<h2>The run</h2>",
        _run_summary(config, steps, dev),
        "<h2>Training</h2>",
        _figure(plot_training(steps, dev, out), CAPTIONS["training"]),
        _figure(plot_dropout(steps, out), CAPTIONS["dropout"]),
        "<h2>Missing-text machinery</h2>",
        _figure(
            plot_text_weight(steps, main_eval[2] if main_eval else None, config["fusion"], out),
            _text_weight_caption(config["fusion"]),
        ),
        _figure(mask_plot, CAPTIONS["mask" if mask_plot else "no_mask"]),
        "<h2>Evaluation and consistency</h2>",
    ]
    if not evaluations:
        parts.append(
            f'<p class="note">No evaluation yet: run <code>mmprep eval {_e(run_dir)}</code>, then '
            f"<code>mmprep report {_e(run_dir)}</code> again.</p>"
        )
    else:
        parts += [
            f"<p>{CAPTIONS['scenarios']}</p>",
            _figure(plot_consistency(evaluations, out), CAPTIONS["consistency"]),
        ]
        for path, report, _ in evaluations:
            parts.append(
                f"<h3>{_e(label(report))} <small class='meta'>({_e(path.name)}: {report['n']} videos, "
                f"{report['n_with_text']} with text; {report['checkpoint']} checkpoint, step {report['step']})</small></h3>"
            )
            parts.append(_evaluation_table(report))
            parts.append(_scenario_c(report["text_effect"]))
        parts += [f"<h2>Example translations, A vs B ({_e(label(main_eval[1]))})</h2>", _examples(main_eval[2])]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>mmprep report: {_e(run_dir.name)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
    target = out / "report.html"
    target.write_text(page, encoding="utf-8")
    return target
