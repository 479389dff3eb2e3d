"""Training throughput: `mmprep train` steps/s and the share of step time spent waiting for data.

One run, same machine, same model and batch size:

- baseline ("compute only"): forward, backward and optimiser steps on batches already in memory, no loader;
- `mmprep train` as users run it (store, cached dataset, stratified sampler, DataLoader), whose metrics give
  the time each step waited for its batch.

The ratio train / baseline is what the data path costs; the data-wait share should stay under 5 %.
With CUDA, a second part runs an mt5-base-sized random backbone in bf16 and reports samples/s and peak memory.

    python scripts/bench_train.py [--videos 400] [--steps 60] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from click.testing import CliRunner

import prep
from prep.cli import main as cli
from prep.model.decoding import target_ids
from prep.model.translation import ModelConfig, SignTranslationModel
from prep.text.hub import load_tokenizer
from prep.text.tiny_mt5 import MT5_BASE, build_tiny_mt5, untie_output_layer
from prep.train.config import resolve
from prep.train.loop import train
from prep.train.optim import build_optimizer


def run_cli(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code:
        sys.exit(result.output)


def make_store(folder: Path, videos: int) -> str:
    url = str(folder / "synth.zarr")
    run_cli("synth", url, "--videos", str(videos), "--seed", "0")
    store = prep.open_store(url)
    encoder = build_tiny_mt5([d for d in store.column("description") if d], folder / "encoder", vocab_size=300)
    run_cli("encode-text", "--store", url, "--model", str(encoder))
    run_cli("init-mask", "--store", url)
    return url


def compute_only(config: dict, url: str, steps: int, folder: Path) -> float:
    """Steps/s of the same model on batches held in memory (no store, no loader)."""
    dataset = prep.PoseDataset(url, split="train", points=config["points"], max_frames=config["max_frames"], cache=True)
    build_tiny_mt5(dataset.translations, folder / "backbone", d_model=config["tiny_d_model"],
                   num_layers=config["tiny_layers"], num_heads=config["tiny_heads"],
                   vocab_size=config["tiny_vocab_size"], max_piece_length=config["tiny_max_piece_length"])  # fmt: skip
    from transformers import MT5ForConditionalGeneration

    backbone = MT5ForConditionalGeneration.from_pretrained(folder / "backbone")
    tokenizer = load_tokenizer(str(folder / "backbone"))
    store = prep.open_store(url)
    model = SignTranslationModel(
        backbone,
        ModelConfig(len(dataset.point_names), dataset.text_dim, pose_stride=config["pose_stride"]),
        torch.from_numpy(store.mask_init),
    )
    optimizer = build_optimizer(model, config)
    size = config["batch_size"]
    batches = [prep.collate(dataset.__getitems__(range(i, i + size))) for i in range(0, 8 * size, size)]
    labels = [target_ids(tokenizer, b["translations"], config["max_target_length"]) for b in batches]
    started = time.perf_counter()
    for step in range(steps):
        batch = batches[step % len(batches)]
        loss = model(batch, labels[step % len(batches)], label_smoothing=config["label_smoothing"])["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
        optimizer.step()
        optimizer.zero_grad()
    return steps / (time.perf_counter() - started)


def with_loader(config: dict, run_dir: Path) -> tuple[float, float]:
    """Steps/s of `mmprep train`'s steps (as its metrics time them, data wait included; start-up and dev
    evaluation excluded) and the share of that time spent waiting for batches."""
    train(config, run_dir, progress=False)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    seconds = sum(r["seconds"] for r in steps)
    return config["max_steps"] / seconds, sum(r["data_wait"] for r in steps) / seconds


def cuda_base_sized(batch_size: int, steps: int, frames: int = 200) -> tuple[float, float]:
    """Samples/s and peak GPU memory (GiB) of training steps with an mt5-base-sized random backbone in bf16."""
    from transformers import MT5Config, MT5ForConditionalGeneration

    device = torch.device("cuda")
    size = {k: v for k, v in MT5_BASE.items() if k != "pieces"}
    backbone = MT5ForConditionalGeneration(MT5Config(**size))
    untie_output_layer(backbone)  # as google/mt5-base: 582 M parameters, not the tied 390 M a config builds
    model = SignTranslationModel(backbone, ModelConfig(125, 768, pose_stride=4), torch.zeros(768)).to(device)
    optimizer = build_optimizer(model, resolve({}, {}))
    generator = torch.Generator(device=device).manual_seed(0)
    batch = {
        "keypoints": torch.randn(batch_size, frames, 125, 3, device=device, generator=generator),
        "conf": torch.ones(batch_size, frames, 125, device=device),
        "mask": torch.ones(batch_size, frames, device=device),
        "text": torch.randn(batch_size, 768, device=device, generator=generator),
        "has_text": torch.arange(batch_size, device=device) % 5 == 0,
    }
    labels = torch.randint(2, 30_000, (batch_size, 30), device=device, generator=generator)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(batch, labels)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(3):  # warm-up: kernels chosen, memory allocated
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - started), torch.cuda.max_memory_allocated() / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=400)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = make_store(folder, args.videos)
        config = resolve({}, {"store": url, "backbone": "tiny", "batch_size": args.batch_size, "log_every": 1,
                              "max_steps": args.steps, "eval_max_videos": 8, "device": "cpu"})  # fmt: skip
        baseline = compute_only(config, url, args.steps, folder)
        steps_per_s, waiting = with_loader(config, folder / "run")
    print(f"tiny backbone, CPU ({torch.get_num_threads()} threads), batch {args.batch_size}, {args.steps} steps, "
          f"synth store of {args.videos} videos")  # fmt: skip
    print("| run | steps/s | samples/s | vs compute only |")
    print("|---|---|---|---|")
    print(f"| compute only (batches in memory; baseline) | {baseline:.2f} | {baseline * args.batch_size:.1f} | 1.00x |")
    print(f"| mmprep train (store, sampler, loader) | {steps_per_s:.2f} | {steps_per_s * args.batch_size:.1f} | "
          f"{steps_per_s / baseline:.2f}x |")  # fmt: skip
    print(f"data wait: {100 * waiting:.1f} % of step time (target < 5 %)")
    if torch.cuda.is_available():
        samples, memory = cuda_base_sized(batch_size=32, steps=20)
        print(f"\nmt5-base-sized random backbone, bf16 on {torch.cuda.get_device_name()}, batch 32 x 200 frames: "
              f"{samples:.1f} samples/s, peak memory {memory:.1f} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
