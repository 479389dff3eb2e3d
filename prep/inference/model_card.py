"""The model card (README.md) of an exported model: what it was trained on, how, and how it scored.

Every number comes from the run: its model's configuration (the model's own settings: what its weights were built
as), its training configuration, its store's summary (``mmprep info``), its training metrics (the best dev BLEU
of training's greedy pass) and the reports `mmprep eval` wrote into RUN_DIR/eval/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from .._version import __version__
from ..errors import InputError
from ..evaluate.loading import Run
from ..evaluate.summary import METRIC_NAMES
from ..model.fusion import TEXT_WEIGHT
from ..model.translation import ModelConfig
from ..store.info import summarize
from ..store.location import absolute
from ..train.run_dir import EVAL, read_metrics


def _number(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _reports(run: Run) -> list[dict]:
    """The run's evaluation reports on the card's store, by split, mode and beams (files that are not reports, and
    reports on other stores, `mmprep eval --store`, are left out)."""
    reports = []
    for path in sorted((run.run_dir / EVAL).glob("*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not (isinstance(report, dict) and "consistency" in report and "bleu" in report):
            continue
        if absolute(str(report.get("store", ""))).rstrip("/") == absolute(run.store.url).rstrip("/"):
            reports.append({**report, "file": path.name})
    return reports


def _evaluation(run: Run) -> list[str]:
    reports = _reports(run)
    if not reports:
        return [
            f"No `mmprep eval` report in {run.run_dir / EVAL}: run `mmprep eval {run.run_dir} --split dev` (and "
            "`--split test`) before exporting to have this section."
        ]
    lines = [
        "Scenario A gives each video its description where it has one; B gives every video the placeholder, as a "
        "deployment without descriptions would. BLEU-4 and ROUGE-L on 0-100 (sacrebleu, Chinese tokenisation).",
        "",
        "| split | mode | beams | checkpoint | videos (with text) | BLEU-4 A | BLEU-4 B | ROUGE-L A | ROUGE-L B |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        mode = r["mode"] + "".join(f" {k}={r[k]:g}" for k in ("alpha", "factor") if r.get(k) is not None)
        lines.append(
            f"| {r['split']} | {mode} | {r['beams']} | {r['checkpoint']} (step {r['step']}) | {r['n']} "
            f"({r['n_with_text']}) | {_number(r['bleu']['4'])} | {_number(r['bleu_without_text']['4'])} | "
            f"{_number(r['rouge_l'])} | {_number(r['rouge_l_without_text'])} |"
        )
    lines += [
        "",
        "The consistency check (output with text ~ output without), over all videos:",
        "",
        "| split | mode | beams | " + " | ".join(METRIC_NAMES.values()) + " | all four |",
        "|---|---|---|" + "---|" * (len(METRIC_NAMES) + 1),
    ]
    for r in reports:
        cells = []
        for name in METRIC_NAMES:
            metric = r["consistency"][name]
            digits = 2 if name == "delta_bleu" else 3
            cells.append(
                f"{_number(metric['value'], digits)} ({metric['rule']}: {'pass' if metric['pass'] else 'FAIL'})"
            )
        verdict = "pass" if r["consistency"]["pass"] else "FAIL"
        lines.append(f"| {r['split']} | {r['mode']} | {r['beams']} | " + " | ".join(cells) + f" | {verdict} |")
    return lines


def _how_text_enters(model: ModelConfig) -> str:
    """How the description reaches the model, in words, for the card's first sentence."""
    ways = ["as more input steps before the pose steps" if model.fusion == "token" else "through a gate on the pose "
            "features"]  # fmt: skip
    if model.text_prior:
        ways.append("as a word prior on the output")
    return " and ".join(ways)


def _fusion(model: ModelConfig) -> str:
    """The settings that matter for the fusion in use (a gate bias means nothing to token fusion)."""
    indicator = model.indicator
    if model.fusion == "token":
        text = (
            "`token`: the pooled description feature is one input step before the pose steps"
            + (", its per-token features follow it" if model.text_tokens else " (no per-token features)")
            + ("; a learned no-text embedding marks a missing description" if indicator else "")
        )
    else:
        text = f"`gate`: fused = pose + gate * text, the gate's initial bias {model.gate_bias:g}" + (
            "; a has-text indicator goes into the gate" if indicator else ""
        )
    if not model.text_prior:
        return text + "; no text prior"
    return text + (
        "; text prior on the output logits"
        + (", with coverage (a word already said counts less)" if model.prior_coverage else "")
        + (", also from the per-token features" if model.prior_tokens else "")
    )


def _use(model: ModelConfig) -> list[str]:
    """The card's "Use" section: the commands, and what each translation carries beside its text."""
    weight = TEXT_WEIGHT[model.fusion]
    return [
        "## Use",
        "",
        "```",
        "mmprep translate THIS_FOLDER video.mp4                        # no description: the placeholder stands in",
        'mmprep translate THIS_FOLDER video.mp4 --description "..." --text-model TEXT_ENCODER_FOLDER',
        "mmprep translate THIS_FOLDER videos/ --out translations.jsonl",
        "```",
        "",
        "From Python: `prep.Translator.from_pretrained(THIS_FOLDER).translate('video.mp4', description=None)`. "
        "Loading reads safetensors and JSON only and needs neither the training store nor a network.",
        "",
        f"Each translation comes with `{weight.name}`, how much of the description the model's fusion lets in: "
        f"{weight.meaning}.",
        "",
    ]


def render(run: Run, spec: dict) -> str:
    """The card as Markdown."""
    config, model, info = run.config, run.model.config, summarize(run.store)  # the model's settings from its own
    text = spec["text_encoder"]
    extraction = spec["extraction"]
    try:
        dev = read_metrics(run.run_dir)[1]
    except InputError:  # a run copied without its metrics still exports
        dev = []
    best_dev = max((d["dev_bleu"] for d in dev), default=None)
    splits = ", ".join(f"{s} {n}" for s, n in info["splits"].items() if s != "unassigned")
    with_text = ", ".join(f"{s} {n}" for s, n in info["with_text"].items() if s != "total")
    lines = [
        "# Sign-language translation model (mmprep)",
        "",
        f"Pose-to-text translation: MediaPipe Holistic keypoints into an mT5 encoder-decoder, with a video's "
        f"description {_how_text_enters(run.model.config)} when there is one. Exported by mmprep {__version__} "
        f"on {datetime.now(UTC).date().isoformat()} from the run `{run.run_dir}`, {run.checkpoint} checkpoint "
        f"(step {run.step}).",
        "",
        *_use(run.model.config),
        "## Data",
        "",
        f"- store: `{info['store']}`: {info['n_videos']} videos ({splits}); with a description: {with_text}",
        f"- keypoints: MediaPipe Holistic ({spec['data']['layout']['name']}), extracted with stride "
        f"{extraction['stride']}, max frames {extraction['max_frames'] or 'all'}, model complexity "
        f"{extraction['model_complexity']}; the model sees {len(spec['data']['points'])} points "
        f"(`{config['points'] if isinstance(config['points'], str) else 'a list'}`), "
        f"{'normalised to shoulder units' if spec['data']['normalize'] else 'not normalised'}, "
        f"at most {spec['data']['max_frames'] or 'all'} frames",
        "- text encoder: "
        + (
            "none (the store had no text features)"
            if text is None
            else f"`{text['model']}` (revision {text['revision'][:12]}), {text['pooling']} pooling, {text['dim']}-d, "
            f"{text['dtype']}, at most {text['max_length']} tokens. Not included: pass its folder with --text-model "
            "to translate with descriptions."
        ),
        "",
        "## Model and strategy",
        "",
        f"- backbone: `{config['backbone']}` (d_model {run.model.backbone.config.d_model}, "
        f"{run.model.backbone.config.num_layers} encoder layers)",
        f"- pose encoder: {model.pose_layers} temporal blocks, kernel {model.pose_kernel}, stride {model.pose_stride}, "
        f"velocity {'on' if model.pose_velocity else 'off'}, positions {'on' if model.pose_positions else 'off'}",
        f"- missing text: placeholder `{model.placeholder}`"
        + (f", schedule `{config['placeholder_schedule']}`" if config["placeholder_schedule"] else "")
        + f", mask embedding from `{config['mask_init']}`, text dropout `{config['text_dropout']}` (dropped text "
        f"becomes {config['dropout_to']})",
        f"- fusion: {_fusion(run.model.config)}",
        f"- training: {config['epochs']} epochs"
        + (f", at most {config['max_steps']} steps" if config["max_steps"] else "")
        + f", batch {config['batch_size']}, lr {config['lr']:g}, seed {config['seed']}; best dev BLEU-4 during "
        f"training (greedy): {_number(best_dev)}",
        "",
        "## Evaluation",
        "",
        *_evaluation(run),
        "",
    ]
    return "\n".join(lines)
