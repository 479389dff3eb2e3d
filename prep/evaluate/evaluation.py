"""`mmprep eval`: decode a split in scenarios A and B, score translation quality and the consistency check.

Every video is decoded twice (A: its real description where it has one; B: the placeholder for every video)
and scored twice under teacher forcing on its reference (for KL and confidence); each video with a description
is decoded once more with another's (C, ``strangers``), for the text effect. Evaluation is deterministic:
the model is in eval mode (no dropout, the noise placeholder is one fixed vector), frames are selected
deterministically, decoding is greedy or beam search without sampling, and the bootstrap uses a fixed seed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath

import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from .. import answer_key, bleu, schemas
from .._version import __version__
from ..data.dataset import collate
from ..model.decoding import generate, target_ids, to_device
from ..model.fusion import TEXT_WEIGHT, with_current_names
from ..train.diagnostics import text_weight_per_sample
from ..train.run_dir import EVAL
from . import metrics
from .loading import Run, load_run
from .modes import SCENARIOS, InferenceMode
from .strangers import StrangerTexts
from .text_effect import text_effect

SCHEMA = "eval-report"


def evaluate(
    run_dir: str | Path,
    split: str = "dev",
    mode: InferenceMode | None = None,
    beams: int = 1,
    checkpoint: str = "best",
    store_url: str | None = None,
    storage_options: dict | None = None,
    batch_size: int | None = None,
    max_videos: int | None = None,
    device: str = "auto",
    resamples: int = metrics.BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    progress: bool = True,
    tokenize: str | None = None,
) -> tuple[dict, list[dict]]:
    """Evaluate a run on one split: every video decoded in scenarios A (its description) and B (the
    placeholder), and with a stranger's description (C); translation quality, the text effect and the
    consistency check. Deterministic: the same arguments give the same report.

    Args:
        run_dir: a run directory of `mmprep train`.
        split: ``"train"``, ``"dev"`` or ``"test"``.
        mode: the inference mode (``InferenceMode``); None: missing-aware.
        beams: beam size; 1 is greedy decoding.
        checkpoint: ``"best"`` (the highest dev BLEU in training) or ``"last"``.
        store_url: the store to read the split from; None: the one the run was trained on.
        storage_options: fsspec options for a remote ``store_url``.
        batch_size: videos per batch; None: the run's training batch size.
        max_videos: keep the split's first this many videos (quick checks); None: all.
        device: ``"auto"`` (a GPU when there is one), ``"cpu"`` or ``"cuda"``.
        resamples: paired-bootstrap resamples of every interval.
        seed: the bootstrap's seed and the one that picks each video's stranger for scenario C.
        progress: show a progress bar (where the output is a terminal).
        tokenize: a sacrebleu tokeniser in place of the one the store's language chooses (``prep.bleu``).

    Returns:
        (the report, as ``schemas/eval-report.schema.json`` describes it; one record per video, the
        predictions ``write`` puts beside it).
    """
    mode = mode or InferenceMode()
    run = load_run(run_dir, checkpoint, store_url, storage_options, device, need_mask=mode.name == "ensemble")
    data = run.dataset(split)
    evaluated = range(len(data) if max_videos is None else min(max_videos, len(data)))
    strangers = StrangerTexts(data, evaluated, seed)
    loader = DataLoader(Subset(data, evaluated), batch_size=batch_size or run.config["batch_size"], collate_fn=collate)
    videos: list[dict] = []
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"eval {split}", unit="batch", disable=None if progress else True):
            videos += _evaluate_batch(run, mode, to_device(batch, run.device), beams, strangers)
    references = [v["reference"] for v in videos]
    tokenize, chosen_by = bleu.choose(run.store.language, references, tokenize)
    for suffix in ("", "_without_text"):
        scores = metrics.sentence_bleu([v["hypothesis" + suffix] for v in videos], references, tokenize)
        for video, score in zip(videos, scores, strict=True):
            video["sentence_bleu" + suffix] = score
    return _report(run, split, mode, beams, videos, (tokenize, chosen_by), resamples, seed), videos


def _report(
    run: Run, split: str, mode: InferenceMode, beams: int, videos: list[dict], sacrebleu: tuple[str, str],
    resamples: int, seed: int,
) -> dict:  # fmt: skip
    """The report of ``evaluate`` from its per-video records; ``sacrebleu``: (tokeniser, what chose it)."""
    tokenize, chosen_by = sacrebleu
    with_text = [v for v in videos if v["has_text"]]
    effect = text_effect(with_text, answer_key.from_metadata(run.store.synth), split, resamples, seed, tokenize)
    applicable = effect is not None and not effect["ignores_text"]
    return {
        "run": str(run.run_dir),
        "checkpoint": run.checkpoint,
        "step": run.step,
        "store": run.store.url,
        "split": split,
        "mode": mode.name,
        "alpha": mode.alpha,
        "factor": mode.factor,
        "beams": beams,
        "placeholder": run.model.config.placeholder,
        "fusion": run.model.config.fusion,
        "mask_source": run.mask_source,
        "n": len(videos),
        "n_with_text": len(with_text),
        **metrics.quality(videos, tokenize),
        "text_effect": effect,
        "consistency": metrics.consistency(videos, resamples, seed, tokenize, applicable),
        "with_text": (
            {
                "n": len(with_text),
                **metrics.quality(with_text, tokenize),
                "consistency": metrics.consistency(with_text, resamples, seed, tokenize, applicable),
            }
            if with_text
            else None
        ),
        "bootstrap": {"resamples": resamples, "seed": seed, "level": metrics.BOOTSTRAP_LEVEL},
        "sacrebleu": {
            "tokenize": tokenize,
            "chosen_by": chosen_by,
            "signature": bleu.signature(tokenize, [v["hypothesis"] for v in videos], [v["reference"] for v in videos]),
        },
        "toolkit_version": __version__,
    }


def _evaluate_batch(run: Run, mode: InferenceMode, batch: dict, beams: int, strangers: StrangerTexts) -> list[dict]:
    """Decode and teacher-force one batch in both scenarios, and decode its with-text videos with a stranger's
    description (C): one record per video."""
    max_length = run.config["max_target_length"]
    labels = target_ids(run.tokenizer, batch["translations"], max_length).to(run.device)
    decoded, log_probs, weights = {}, {}, {}
    for scenario in SCENARIOS:
        members = mode.members(batch, scenario)
        ids = generate(run.model, batch, members, max_new_tokens=max_length, num_beams=beams, do_sample=False)
        decoded[scenario] = run.tokenizer.batch_decode(ids, skip_special_tokens=True)
        outputs = [run.model(batch, labels, **member) for member in members]
        log_probs[scenario] = metrics.mixture_log_probs([out["logits"] for out in outputs])
        weights[scenario] = text_weight_per_sample(outputs[0]["text_weight"], outputs[0]["mask"]).cpu().numpy()
    stats = metrics.token_statistics(log_probs["A"], log_probs["B"], labels)
    stranger = _decode_strangers(run, mode, batch, beams, strangers)
    weight = TEXT_WEIGHT[run.model.config.fusion].name
    return [
        {
            "id": video_id,
            "has_text": bool(batch["has_text"][i]),
            "reference": batch["translations"][i],
            "hypothesis": decoded["A"][i],
            "hypothesis_without_text": decoded["B"][i],
            "kl": float(stats["kl_sum"][i] / max(stats["tokens"][i], 1)),
            "tokens": int(stats["tokens"][i]),
            "confidence": float(stats["confidence_a"][i]),
            "confidence_without_text": float(stats["confidence_b"][i]),
            weight: float(weights["A"][i]),
            weight + "_without_text": float(weights["B"][i]),
            "hypothesis_stranger_text": stranger[i],
            "stranger": strangers.donor_of.get(video_id),
        }
        for i, video_id in enumerate(batch["ids"])
    ]


def _decode_strangers(run: Run, mode: InferenceMode, batch: dict, beams: int, strangers: StrangerTexts) -> list:
    """Scenario C: each video of ``batch`` that has a description decoded with its stranger's (None for the others)."""
    decoded = [None] * len(batch["ids"])
    swapped = strangers.batch(batch)
    if swapped is not None:
        rows, other = swapped
        ids = generate(run.model, other, mode.members(other, "A"), max_new_tokens=run.config["max_target_length"],
                       num_beams=beams, do_sample=False)  # fmt: skip
        for row, text in zip(rows, run.tokenizer.batch_decode(ids, skip_special_tokens=True), strict=True):
            decoded[row] = text
    return decoded


def default_output(
    run_dir: str | Path, split: str, mode: InferenceMode, beams: int = 1, other_store: str | None = None
) -> Path:
    """``RUN_DIR/eval/<split>-<mode tag>[-beam<N>][.on-<store>].json``: an evaluation on a store other than the
    run's own (``other_store``, `eval --store`) goes beside the run's, named after that store, not over it."""
    name = f"{split}-{mode.tag}" + (f"-beam{beams}" if beams > 1 else "")
    if other_store:
        store = PurePosixPath(other_store.rstrip("/")).name.removesuffix(".zarr")
        name += ".on-" + re.sub(r"[^A-Za-z0-9_-]+", "-", store)
    return Path(run_dir) / EVAL / f"{name}.json"


def predictions_path(report_path: str | Path) -> Path:
    """The predictions beside a report: same stem, ``.predictions.jsonl``."""
    report_path = Path(report_path)
    return report_path.with_name(report_path.name.removesuffix(".json") + ".predictions.jsonl")


def write(report: dict, videos: list[dict], path: str | Path) -> Path:
    """Write the predictions, then the report (last, atomically: a report on disk means a finished evaluation).
    The report is checked against its schema first."""
    path = Path(path)
    report = {**report, "predictions": predictions_path(path).name}
    problems = schemas.errors(SCHEMA, report)
    if problems:
        raise ValueError("the evaluation report breaks its schema:\n  " + "\n  ".join(problems))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Both into temporary files first: a write that fails (a full disk) leaves an earlier evaluation whole.
    tmp_predictions, tmp = (p.with_name(p.name + ".tmp") for p in (predictions_path(path), path))
    try:
        with open(tmp_predictions, "w", encoding="utf-8") as f:
            for video in videos:
                f.write(json.dumps(video, ensure_ascii=False) + "\n")
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except BaseException:
        tmp_predictions.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp_predictions, predictions_path(path))
    os.replace(tmp, path)
    return path


def read(path: str | Path, fusion: str | None = None) -> tuple[dict, list[dict]]:
    """A report written by ``write`` and its predictions.

    Args:
        path: the report (``default_output``); its predictions are read from beside it (``predictions_path``).
        fusion: the run's fusion, for a report written before reports recorded theirs: its predictions name the
            fusion's text weight ``gate`` (``fusion.OLD_NAMES``), and get today's name from it. Without it, such
            predictions keep the old name.
    """
    path = Path(path)
    report = json.loads(path.read_text(encoding="utf-8"))
    videos = [json.loads(line) for line in predictions_path(path).read_text(encoding="utf-8").splitlines()]
    fusion = report.get("fusion", fusion)
    return report, videos if fusion is None else [with_current_names(video, fusion) for video in videos]
