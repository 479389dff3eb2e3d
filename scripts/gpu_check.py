"""The first thing to run on a machine with a GPU: mmprep at the real size (mT5-base), one table, a few minutes.

    python scripts/gpu_check.py                    # an mT5-base-sized model with random weights, built here
    python scripts/gpu_check.py --model ./mt5-base # or a downloaded google/mt5-base (`hf download ...`)
    python scripts/gpu_check.py --tiny             # the same steps with a tiny model on the CPU (the test suite's)

On a synthetic store of the dataset's shape (`mmprep synth`: 2,000 videos of 100-300 frames, 449 with a
description, as CSL-Daily), each step as its command runs it: encode-text of the 449 descriptions in
bfloat16 (descriptions/s), init-mask, 200 training steps with the defaults (batch 16, bf16 autocast: steps/s,
peak GPU memory, whether every loss was finite), eval of the dev videos (greedy, videos/s), translate
(seconds per video, greedy and beam 4), export-model and translate from the export (the same translations).
It prints one table and writes OUT/gpu_check.json; the model, checkpoints and export are deleted after, unless
--keep. Nothing is downloaded. Peak GPU memory at batch 16: see docs/real-size.md for what to expect.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

import prep
from prep.evaluate.evaluation import evaluate
from prep.inference.export import export_model
from prep.synth import SynthConfig, write_synth
from prep.text.encode import encode_store, read_descriptions
from prep.text.hub import load_encoder
from prep.text.mask_init import init_mask
from prep.text.tiny_mt5 import MT5_BASE, build_tiny_mt5
from prep.train.config import resolve
from prep.train.loop import train

SIZES = {  # videos, descriptions, frames, training steps and options, dev videos evaluated, videos translated
    "real": dict(videos=2000, text_ratio=449 / 2000, frames=(100, 300), steps=200, options={}, eval_videos=200,
                 translate=8),
    "tiny": dict(videos=24, text_ratio=0.25, frames=(20, 40), steps=2, options={"batch_size": 8,
                 "max_target_length": 8}, eval_videos=2, translate=2),
}  # fmt: skip
TINY_MODEL = dict(d_model=32, num_layers=1, num_heads=2, vocab_size=2_048, pieces=2_000)


def timed(function, *args, **kwargs):
    """(result, seconds), the GPU's queue drained before the clock stops."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def make_store(url: str, size: dict) -> prep.Store:
    config = SynthConfig(videos=size["videos"], text_ratio=size["text_ratio"], frames=size["frames"])
    write_synth(url, config)
    return prep.open_store(url)


def encode_text(url: str, model: str, device: str) -> dict:
    """encode-text in bfloat16 on a GPU (float32 on a CPU), then init-mask."""
    encoder, load_seconds = timed(load_encoder, model, device=device, dtype="auto")
    with prep.open_store(url, mode="a") as store:
        texts = read_descriptions(store)
        summary, seconds = timed(encode_store, store, encoder, texts, progress=False)
        init_mask(store)
    return {"descriptions": summary.n_with_text, "seconds": seconds, "load_seconds": load_seconds,
            "per_second": summary.n_with_text / seconds, "dtype": str(encoder.dtype).removeprefix("torch.")}  # fmt: skip


def train_steps(url: str, backbone: str, run_dir: Path, size: dict, device: str) -> dict:
    """`mmprep train` with the defaults for ``steps`` steps; steps/s from its own timing of the steps."""
    config = resolve({}, {"store": url, "backbone": backbone, "max_steps": size["steps"], "log_every": 1,
                          "eval_max_videos": size["eval_videos"], "device": device, **size["options"]})  # fmt: skip
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    _, seconds = timed(train, config, run_dir, progress=False)
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r and "event" not in r]
    step_seconds = sum(r["seconds"] for r in steps)
    losses = [r["loss"] for r in steps]
    return {
        "steps": len(steps), "batch_size": config["batch_size"], "precision": config["precision"],
        "steps_per_second": len(steps) / step_seconds, "seconds": seconds,
        "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
        "first_loss": losses[0], "last_loss": losses[-1],
        "finite": all(x == x and abs(x) != float("inf") for x in losses) and len(steps) == size["steps"],
    }  # fmt: skip


def translate_videos(source, store: prep.Store, ids: list[str], beams: int, device: str, from_run: bool):
    """Seconds per video and the translations of ``ids`` (with their descriptions) by a run or an export."""
    build = prep.Translator.from_run if from_run else prep.Translator.from_pretrained
    translator = build(source, beams=beams, device=device)
    outputs, seconds = [], []
    for video in ids:
        xyz, conf = store.pose(video)
        row = store.video(video)
        record, took = timed(translator.translate_pose, video, xyz, conf, row["width"], row["height"],
                             row["description"] or None)  # fmt: skip
        outputs.append(record["translation"])
        seconds.append(took)
    return outputs, sum(seconds[1:] or seconds) / max(1, len(seconds) - 1)  # the first also loads the text encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a downloaded mT5 folder (default: mT5-base's shape, random weights)")
    parser.add_argument("--out", type=Path, help="where to work and write gpu_check.json (default: a temporary folder)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and store, on the CPU")
    parser.add_argument("--keep", action="store_true", help="keep the model, the run and the export")
    args = parser.parse_args()
    if not args.tiny and not torch.cuda.is_available():
        parser.exit(1, "gpu_check: no CUDA device here; --tiny runs the same steps on the CPU, to check the script\n")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        results = check(out, args)
        (out / "gpu_check.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(table(results))
        if not args.keep:
            for name in ("mt5", "run", "export"):
                shutil.rmtree(out / name, ignore_errors=True)


def check(out: Path, args) -> dict:
    size = SIZES["tiny" if args.tiny else "real"]
    device = "cpu" if args.tiny else "cuda"
    store = make_store(str(out / "store.zarr"), size)
    model = args.model
    if model is None:
        sentences = [t for column in ("translation", "description") for t in store.column(column) if t]
        model = str(build_tiny_mt5(sentences, out / "mt5", max_piece_length=2, untied_head=True,
                                   **(TINY_MODEL if args.tiny else MT5_BASE)))  # fmt: skip
    results = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
               "model": args.model or ("tiny, random" if args.tiny else "mT5-base-sized, random")}  # fmt: skip
    results["encode_text"] = encode_text(str(out / "store.zarr"), model, device)
    results["train"] = train_steps(str(out / "store.zarr"), model, out / "run", size, device)
    (report, _), seconds = timed(evaluate, out / "run", split="dev", max_videos=size["eval_videos"], device=device,
                            progress=False, checkpoint="last")  # fmt: skip
    results["eval"] = {"videos": report["n"], "seconds": seconds, "videos_per_second": report["n"] / seconds}
    splits = store.column("split")
    ids = [v for v, s in zip(store.ids, splits, strict=True) if s == "test"][: size["translate"]]
    for beams in (1, 4):
        _, results[f"translate_beam{beams}"] = translate_videos(out / "run", store, ids, beams, device, True)
    _, results["export_seconds"] = timed(export_model, out / "run", out / "export", checkpoint="last")
    from_run, _ = translate_videos(out / "run", store, ids, 1, device, True)
    from_export, _ = translate_videos(out / "export", store, ids, 1, device, False)
    results["export_same_translations"] = from_run == from_export
    return results


def table(r: dict) -> str:
    t, e = r["train"], r["encode_text"]
    memory = f"{t['peak_gpu_gib']:.1f} GiB peak GPU memory" if t["peak_gpu_gib"] is not None else "(CPU: no GPU memory)"
    rows = [
        ("encode-text", f"{e['descriptions']} descriptions, {e['dtype']}", f"{e['per_second']:.0f} descriptions/s "
         f"(model loaded in {e['load_seconds']:.0f} s)"),
        ("train", f"{t['steps']} steps, batch {t['batch_size']}, precision {t['precision']}",
         f"{t['steps_per_second']:.2f} steps/s, {memory}, loss {t['first_loss']:.2f} -> {t['last_loss']:.2f}, "
         f"{'finite' if t['finite'] else 'NOT FINITE'}"),
        ("eval", f"{r['eval']['videos']} dev videos, greedy", f"{r['eval']['videos_per_second']:.2f} videos/s"),
        ("translate", "greedy / beam 4", f"{r['translate_beam1']:.2f} / {r['translate_beam4']:.2f} s per video"),
        ("export-model", "then translate from it", f"{r['export_seconds']:.0f} s; translations "
         f"{'the same' if r['export_same_translations'] else 'DIFFERENT'}"),
    ]  # fmt: skip
    lines = [f"mmprep GPU check on {r['device']} (torch {r['torch']}), model: {r['model']}",
             "| step | what | result |", "|---|---|---|"]  # fmt: skip
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])


if __name__ == "__main__":
    main()
