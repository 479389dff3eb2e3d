"""The real-size model, mT5-base, end to end on this machine: what each stage costs.

No download: the backbone has google/mt5-base's architecture with random weights (d_model 768, 12 + 12 layers,
12 heads, d_ff 2048, an output layer of its own, a 250,112-row vocabulary and a SentencePiece tokenizer of
250,100 pieces: ``prep.text.tiny_mt5.MT5_BASE``), written with save_pretrained and given to mmprep as a user's
download is (`--backbone PATH`, `--model PATH`). The store is `mmprep synth` videos of 100-FRAMES frames, a
description for 22 % of them (CSL-Daily: 449 of about 2,000). Then, as a user would, each an `mmprep` command
in a process of its own (so its peak resident memory is its own): encode-text, init-mask, train --steps steps
(the defaults but the batch size), eval with greedy and beam-4 decoding, export of a few test videos as .pose,
translate, export-model, translate from the export. Training is also timed per batch size and precision
(float32; bfloat16 autocast, on the CPU too), and at the largest batch with gradient checkpointing, on a
second store whose videos all have FRAMES frames, the longest: what memory has to hold. In this process, with
the exported model: the decoding time per video (greedy, beam 4), and what the text prior and its coverage
cost per decoding step (the same decoding with and without them).

    python scripts/bench_real_size.py --out DIR [--steps 4] [--batch-sizes 2,4,8] [--frames 300]

DIR/results.json holds every figure, with the command that gave it and the machine's load average (timings on
a shared machine are noisy). The backbone, checkpoints and export (GBs) are deleted at the end unless --keep.
Peak memory: about 11 GB (float32 training with AdamW: 16 bytes per parameter, and the activations); disk:
about 20 GB at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import memory_model  # scripts/memory_model.py, beside this one
import torch

import prep
from prep.text.tiny_mt5 import MT5_BASE, build_tiny_mt5

TINY = dict(d_model=32, num_layers=1, num_heads=2, vocab_size=2_048, pieces=2_000)  # --tiny: the same steps, quickly
TEXT_RATIO = 0.2245  # 449 of 2,000 videos have a description in CSL-Daily
PRECISIONS = ("float32", "bfloat16")


WAIT_FOR_GB = 0.0  # --wait-for-memory: on a shared machine, start a command only when this much memory is free


def available_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return int(fields["MemAvailable"].split()[0]) / 2**20


def wait_for_memory() -> None:
    while WAIT_FOR_GB and available_gb() < WAIT_FOR_GB:
        time.sleep(30)


# Linux counts a process's peak memory from before its exec: a command started from this process (4 GB once the
# backbone is built) would report at least that. A small Python in between starts it and reports its peak.
PEAK_MARK = "peak resident memory (KiB): "
PEAK_OF_CHILD = (
    "import os, sys; pid = os.spawnv(os.P_NOWAIT, sys.argv[1], sys.argv[1:]); _, status, usage = os.wait4(pid, 0); "
    f"print('\\n{PEAK_MARK}' + str(usage.ru_maxrss), flush=True); sys.exit(os.waitstatus_to_exitcode(status))"
)


def mmprep(log: list[dict], *args: str) -> dict:
    """Run `mmprep ARGS` in a process of its own: its wall seconds and peak resident memory (MB), logged."""
    command = [sys.executable, "-c", PEAK_OF_CHILD, sys.executable, "-m", "prep", *map(str, args)]
    wait_for_memory()
    load, free = os.getloadavg()[0], available_gb()
    started = time.perf_counter()
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _, peak = process.stdout.rpartition(PEAK_MARK)
    record = {
        "command": "mmprep " + " ".join(map(str, args)),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(int(peak) / 1024) if peak.strip().isdigit() else None,  # Linux: kilobytes
        "load_average_before": round(load, 2),
        "available_gb_before": round(free, 1),
    }
    log.append(record)
    if process.returncode:
        sys.exit(f"{record['command']} failed ({process.returncode}):\n{output[-4000:]}")
    print(f"  {record['seconds']:8.1f} s {record['peak_rss_mb'] or 0:7d} MB  {record['command']}", flush=True)
    return record


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def build_backbone(folder: Path, store_url: str, size: dict) -> dict:
    """google/mt5-base's shape (``size``) with random weights; its tokenizer trained on the store's text, then
    padded to 250,100 pieces."""
    store = prep.open_store(store_url)
    sentences = [t for column in ("translation", "description") for t in store.column(column) if t]
    started = time.perf_counter()
    build_tiny_mt5(sentences, folder, max_piece_length=2, untied_head=True, **size)
    return {"seconds": round(time.perf_counter() - started, 1), "size_mb": size_mb(folder), **size}


def training_figures(run_dir: Path, record: dict) -> dict:
    """Seconds per optimiser step (the median after the first, which also allocates the optimiser's state),
    peak memory, and whether every loss was finite, from a run's metrics and first-batch check."""
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "loss" in m and "event" not in m]
    seconds = [m["seconds"] for m in steps]
    first_batch = json.loads((run_dir / "first_batch.json").read_text())
    losses = [m["loss"] for m in steps]
    return {
        "steps": len(steps),
        "seconds_per_step": round(statistics.median(seconds[1:] or seconds), 2),
        "first_step_seconds": round(seconds[0], 2),
        "peak_rss_mb": record["peak_rss_mb"],
        "loss_finite": bool(first_batch["finite"]) and all(map(_finite, losses)) and len(steps) > 0,
        "first_loss": round(first_batch["loss"], 3),
        "losses": [round(x, 3) for x in losses],
        "skipped_steps": sum(1 for m in metrics if m.get("event") == "non_finite"),
        "command_seconds": record["seconds"],
        "load_average_before": record["load_average_before"],
    }


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def train(log, store: str, run_dir: Path, backbone: Path, batch_size: int, precision: str, steps: int, *extra):
    record = mmprep(log, "train", "--store", store, "--out", run_dir, "--backbone", backbone, "--device", "cpu",
                    "--batch-size", batch_size, "--precision", precision, "--max-steps", steps, "--log-every", 1,
                    "--eval-max-videos", 1, *extra)  # fmt: skip
    return {"batch_size": batch_size, "precision": precision, **training_figures(run_dir, record)}


def training_grid(log, store: str, out: Path, backbone: Path, args) -> list[dict]:
    """Every batch size in every precision, on videos of --frames frames, and the largest batch in the last
    precision with gradient checkpointing; checkpoints deleted after each."""
    settings = [(b, p, False) for p in args.precisions for b in args.batch_sizes]
    settings.append((max(args.batch_sizes), args.precisions[-1], True))
    grid = []
    for batch_size, precision, recompute in settings:
        run_dir = out / f"grid-b{batch_size}-{precision}{'-checkpointing' if recompute else ''}"
        extra = ("--gradient-checkpointing",) if recompute else ()
        figures = train(log, store, run_dir, backbone, batch_size, precision, args.steps, *extra)
        figures["checkpoint_mb"] = {p.stem: size_mb(p) for p in (run_dir / "checkpoints").glob("*.pt")}
        shutil.rmtree(run_dir / "checkpoints")
        grid.append({"frames": args.frames, "gradient_checkpointing": recompute, **figures})
    return grid


def user_flow(log, store: str, out: Path, backbone: Path, args) -> dict:
    """train, eval (greedy, beam 4), .pose export, translate, export-model, translate from the export."""
    run_dir, export, poses = out / "run", out / "export", out / "poses"
    training = train(log, store, run_dir, backbone, args.flow_batch_size, "auto", args.steps)
    evals = {}
    for beam in (1, 4):
        report = out / f"eval-beam{beam}.json"
        record = mmprep(log, "eval", run_dir, "--split", "test", "--max-videos", args.decode_videos, "--beam", beam,
                        "--device", "cpu", "--out", report, "--quiet")  # fmt: skip
        evals[f"beam{beam}"] = {**record, "videos": json.loads(report.read_text())["n"]}
    ids = [v for v, s in zip(prep.open_store(store).ids, prep.open_store(store).column("split"), strict=True)
           if s == "test"][: args.decode_videos]  # fmt: skip
    mmprep(log, "export", "--store", store, "--format", "pose", "--out", poses, *[a for i in ids for a in ("--ids", i)])
    files = sorted(str(p) for p in poses.glob("*.pose"))
    from_run = mmprep(log, "translate", run_dir, *files, "--device", "cpu", "--out", out / "translate-run.jsonl")
    exported = mmprep(log, "export-model", run_dir, "--out", export)
    from_export = mmprep(log, "translate", export, *files, "--device", "cpu", "--out", out / "translate-export.jsonl")
    same = [json.loads(x)["translation"] for x in (out / "translate-run.jsonl").read_text().splitlines()] == [
        json.loads(x)["translation"] for x in (out / "translate-export.jsonl").read_text().splitlines()
    ]
    return {
        "training": training,
        "checkpoint_mb": {p.stem: size_mb(p) for p in (run_dir / "checkpoints").glob("*.pt")},
        "eval": evals,
        "translate_from_run": {**from_run, "videos": len(files)},
        "export_model": {**exported, "size_mb": size_mb(export), "backbone_mb": size_mb(export / "backbone")},
        "translate_from_export": {**from_export, "videos": len(files), "same_as_from_run": same},
    }


PART_NAMES = {  # the model's parts as results.json names them: prefixes of the parameters' names
    "pose_encoder": ("pose_encoder.",),
    "fusion": ("fusion.", "placeholder."),
    "text_prior": ("text_prior.", "token_prior.", "prior_coverage"),
    "ctc_head": ("gloss_head.", "gloss_input."),
    "backbone_embedding": ("backbone.shared.",),
    "backbone_output_layer": ("backbone.lm_head.",),
    "backbone_encoder": ("backbone.encoder.",),
    "backbone_decoder": ("backbone.decoder.",),
}


def parameters(model: torch.nn.Module) -> dict:
    """Parameters per part (a matrix shared by two parts counted once, in the first), and in all."""
    counts = dict.fromkeys(PART_NAMES, 0)
    for name, param in model.named_parameters():
        part = next(p for p, prefixes in PART_NAMES.items() if name.startswith(prefixes))
        counts[part] += param.numel()
    counts["backbone"] = sum(v for k, v in counts.items() if k.startswith("backbone_"))
    counts["total"] = sum(param.numel() for param in model.parameters())
    return counts


def decoding_figures(out: Path, store_url: str) -> dict:
    """With the exported model: parameters, vocabulary, seconds per video (greedy, beam 4) as `mmprep translate`
    decodes a .pose file (with the video's description where it has one), and the text prior's cost per step."""
    store = prep.open_store(store_url)
    descriptions = dict(zip(store.ids, store.column("description"), strict=True))
    files = sorted((out / "poses").glob("*.pose"))
    translator = prep.Translator.from_pretrained(out / "export", device="cpu")
    translator.translate(files[0], descriptions[files[0].stem] or None)  # warm-up: loads the text encoder
    per_video = {}
    for beams in (1, 4):
        translator.beams = beams
        seconds, tokens = [], []
        for path in files:
            started = time.perf_counter()
            record = translator.translate(path, descriptions[path.stem] or None)
            seconds.append(time.perf_counter() - started)
            tokens.append(len(translator.tokenizer(record["translation"])["input_ids"]))
        per_video[f"beam{beams}"] = {"seconds_per_video": round(statistics.mean(seconds), 2),
                                     "seconds": [round(x, 2) for x in seconds], "output_tokens": tokens}  # fmt: skip
    model = translator.model
    figures = {
        "parameters": parameters(model),
        "vocab_size": model.backbone.config.vocab_size,
        "tokenizer_pieces": len(translator.tokenizer),
        "output_layer_tied": model.backbone.get_output_embeddings().weight is model.backbone.shared.weight,
        "decoding": {
            "videos": len(files),
            "max_new_tokens": translator.spec["decoding"]["max_target_length"],
            "load_average": round(os.getloadavg()[0], 2),
            **per_video,
        },
    }
    batch = _batch_with_text(translator, store)
    figures["text_prior_cost"] = [prior_cost(model, batch, beams) for beams in (1, 4)]
    return figures


def _batch_with_text(translator, store) -> dict:
    """A one-video batch of the store's first video with a description, read as the model's training read it."""
    data = translator.spec["data"]
    dataset = prep.PoseDataset(store, split=None, points=data["points"], normalize=data["normalize"],
                               max_frames=data["max_frames"], text_tokens=translator.model.config.text_tokens)  # fmt: skip
    first = next(i for i in range(len(dataset)) if dataset.has_text[i])
    return prep.collate([dataset[first]])


@torch.no_grad()
def prior_cost(model, batch: dict, beams: int, steps: int = 32, repeats: int = 3) -> dict:
    """Seconds per decoding step of the same decoding (``steps`` tokens, end of sentence forbidden until then)
    with the text prior and its coverage penalty, and without them: the best of ``repeats``, alternating."""
    from transformers import LogitsProcessorList

    fused = model.fuse(batch)
    options = dict(inputs_embeds=fused.embeds, attention_mask=fused.mask, max_new_tokens=steps, min_new_tokens=steps,
                   num_beams=beams, do_sample=False)  # fmt: skip
    best = {"with": float("inf"), "without": float("inf")}
    for _ in range(repeats):
        for which in best:
            prior, processors = (fused.prior, model.processors(fused)) if which == "with" else (None, [])
            started = time.perf_counter()
            with model.logit_bias(prior):
                model.backbone.generate(**options, logits_processor=LogitsProcessorList(processors))
            best[which] = min(best[which], (time.perf_counter() - started) / steps)
    return {
        "beams": beams,
        "steps": steps,
        "seconds_per_step_with_prior": round(best["with"], 4),
        "seconds_per_step_without": round(best["without"], 4),
        "prior_share": round(best["with"] / best["without"] - 1, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps per training (default 4)")
    parser.add_argument("--batch-sizes", type=_ints, default=(2, 4), help="comma-separated, at least 2 (default 2,4)")
    parser.add_argument("--precisions", type=lambda s: tuple(s.split(",")), default=PRECISIONS)
    parser.add_argument("--frames", type=int, default=300, help="the longest video (default 300)")
    parser.add_argument("--videos", type=int, default=40, help="videos per store (default 40)")
    parser.add_argument("--flow-batch-size", type=int, default=4, help="batch size of the end-to-end run (default 4)")
    parser.add_argument("--decode-videos", type=int, default=3, help="test videos decoded (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the backbone, checkpoints and export")
    parser.add_argument("--tiny", action="store_true", help="a tiny backbone: every step in a minute, to check")
    parser.add_argument("--wait-for-memory", type=float, default=0.0, metavar="GB",
                        help="a shared machine: start each command only when this much memory is available")  # fmt: skip
    args = parser.parse_args()
    global WAIT_FOR_GB
    WAIT_FOR_GB = args.wait_for_memory
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    log: list[dict] = []
    results = {"machine": machine(), "settings": {k: str(v) for k, v in vars(args).items()}, "commands": log}
    if not args.tiny:  # what training holds per video, measured on 1- and 2-layer models (scripts/memory_model.py)
        figures = memory_model.activation_figures()
        results["memory_model"] = {"activations_mib": figures, "table": memory_model.table(figures)}
    data, grid = str(out / "data.zarr"), str(out / "grid.zarr")
    for url, frames in ((data, f"{min(100, args.frames)},{args.frames}"), (grid, f"{args.frames},{args.frames}")):
        mmprep(log, "synth", url, "--videos", args.videos, "--text-ratio", TEXT_RATIO, "--frames", frames)
    backbone = out / "mt5-base"
    wait_for_memory()
    results["backbone"] = build_backbone(backbone, data, TINY if args.tiny else MT5_BASE)
    for url in (data, grid):
        record = mmprep(log, "encode-text", "--store", url, "--model", backbone, "--device", "cpu")
        n = int(prep.open_store(url).has_text.sum())
        results.setdefault("encode_text", []).append({**record, "descriptions": n})
        mmprep(log, "init-mask", "--store", url)
    results["training"] = training_grid(log, grid, out, backbone, args)
    _write(out, results)
    results["flow"] = user_flow(log, data, out, backbone, args)
    _write(out, results)
    wait_for_memory()
    results.update(decoding_figures(out, data))  # in this process, now that every command has ended
    _write(out, results)
    if not args.keep:
        for path in (backbone, out / "run" / "checkpoints", out / "export"):
            shutil.rmtree(path, ignore_errors=True)
    print(f"wrote {out / 'results.json'}")


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def _write(out: Path, results: dict) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
