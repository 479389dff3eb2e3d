"""What training mT5-base holds in memory, and what fits on a 24, 40 or 80 GB GPU (docs/real-size.md).

    python scripts/memory_model.py [--out FILE.json]      # about a minute and 2 GB of memory, on a CPU

Fixed, per model: float32 weights, gradients and AdamW's two moments, 16 bytes per parameter; with bf16
autocast also a bf16 copy of every weight a matrix product reads, kept from the forward pass to the backward.
Per video: the activations the backward pass needs, measured here by counting the bytes of every tensor the
forward pass saves for it (torch.autograd.graph.saved_tensors_hooks; parameters left out), on mmprep's model
with mT5-base's widths and vocabulary (250,112) and 1 and 2 backbone layers: the difference is one layer's
share, exact because the layers are alike, and 12 of them are mT5-base's. Each figure is varied alone from a
video of 300 frames, 40 description tokens and 20 target tokens: per frame (the pose encoder), per input step
of the backbone's encoder (a pose step every 4 frames, the pooled description, each description token), per
target token (the decoder, and the output layer's log-probabilities over the vocabulary). With gradient
checkpointing a layer keeps only its input (4 bytes x 768 per step) and recomputes the rest, one layer at a
time, in the backward pass. Saved tensors are what a GPU holds too (its attention kernels save less: the
figure is an upper bound there); the backward pass adds transient buffers on top, the largest the gradient of
the log-probabilities, 4 bytes x 250,112 per target token.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from transformers import MT5Config, MT5ForConditionalGeneration

from prep.model.translation import ModelConfig, SignTranslationModel
from prep.text.tiny_mt5 import MT5_BASE, untie_output_layer

GiB = 2**30
BASE = dict(frames=300, text_tokens=40, targets=20)  # the video each figure is varied from
STRIDE = 4  # pose steps per frame: train's --pose-stride default
GPUS = (24, 40, 80)
CUDA_RESERVE_GIB = 1.0  # the CUDA context and the allocator's slack: not for tensors
GLOSSES = 2000  # CSL-Daily's gloss vocabulary: the CTC head's width


def model_with(layers: int, device: str = "cpu") -> SignTranslationModel:
    size = {k: v for k, v in MT5_BASE.items() if k != "pieces"} | {"num_layers": layers}
    with torch.device(device):
        backbone = MT5ForConditionalGeneration(MT5Config(**size))
    untie_output_layer(backbone)
    config = ModelConfig(125, 768, text_tokens=True, text_prior=True, prior_coverage=True, pose_positions=True,
                         pose_stride=STRIDE, glosses=tuple(f"g{i}" for i in range(GLOSSES)))  # fmt: skip
    with torch.device(device):
        return SignTranslationModel(backbone, config, torch.zeros(768)).train()


def parameters() -> int:
    """mmprep's model at mT5-base's size (on the meta device: shapes only)."""
    return sum(p.numel() for p in model_with(12, "meta").parameters())


def batch(videos: int, frames: int, text_tokens: int, targets: int) -> tuple[dict, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "keypoints": torch.randn(videos, frames, 125, 3, generator=g),
        "conf": torch.ones(videos, frames, 125),
        "mask": torch.ones(videos, frames),
        "text": torch.randn(videos, 768, generator=g),
        "has_text": torch.ones(videos, dtype=torch.bool),
        "text_tokens": torch.randn(videos, text_tokens, 768, generator=g),
        "text_token_mask": torch.ones(videos, text_tokens, dtype=torch.bool),
        "glosses": ["g1 g2 g3 g4"] * videos,
    }, torch.randint(3, 250_000, (videos, targets), generator=g)


def saved_mib(model: SignTranslationModel, bf16: bool, videos: int = 1, **shape) -> float:
    """MiB of the tensors the forward pass (loss and CTC loss) saves for the backward pass, parameters aside."""
    shape = BASE | shape
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        # detached: the graph is dropped without a backward pass, and a saved output that keeps its own grad_fn
        # would hold the graph (and the bf16 weight copies) in a reference cycle torch cannot free
        return tensor.detach()

    inputs, labels = batch(videos, shape["frames"], shape["text_tokens"], shape["targets"])
    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor)
    with hooks, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model(inputs, labels)
    return sum(seen.values()) / 2**20


def activation_figures() -> dict:
    """Per precision: MiB per video of the model's fixed share (the bf16 weight copies) and per frame, encoder
    step and target token, outside the backbone's layers and per layer."""
    figures = {"parameters": parameters()}
    for bf16 in (False, True):
        measured = {}
        for layers in (1, 2):
            model = model_with(layers)
            one = saved_mib(model, bf16)
            measured[layers] = {
                "fixed": 2 * one - saved_mib(model, bf16, videos=2),
                "per_frame_and_step": (one - saved_mib(model, bf16, frames=BASE["frames"] - 200)) / 200,
                "per_step": (saved_mib(model, bf16, text_tokens=BASE["text_tokens"] + 40) - one) / 40,
                "per_target": (saved_mib(model, bf16, targets=BASE["targets"] + 20) - one) / 20,
            }
            del model
        layer = {k: measured[2][k] - measured[1][k] for k in measured[1]}
        outside = {k: measured[1][k] - layer[k] for k in measured[1]}
        # 200 frames fewer are 50 pose steps fewer: what is left per frame is the pose encoder's
        outside["per_frame"] = outside.pop("per_frame_and_step") - outside["per_step"] / STRIDE
        layer["per_frame"] = layer.pop("per_frame_and_step") - layer["per_step"] / STRIDE
        figures["bfloat16" if bf16 else "float32"] = {"outside_layers": outside, "per_layer": layer}
    return figures


def per_video_gib(figures: dict, precision: str, frames: int, text_tokens: int, targets: int, layers: int = 12,
                  checkpointing: bool = False) -> float:  # fmt: skip
    """GiB of saved activations per video."""
    part = figures[precision]
    steps = frames / STRIDE + 1 + text_tokens
    outside = part["outside_layers"]
    total = outside["per_frame"] * frames + outside["per_step"] * steps + outside["per_target"] * targets
    per_layer = part["per_layer"]["per_step"] * steps + part["per_layer"]["per_target"] * targets
    if checkpointing:  # each layer keeps its input (float32 residual stream), and one layer is recomputed at a time
        kept = 768 * 4 / 2**20 * (steps + targets)
        total += layers * kept + per_layer
    else:
        total += layers * per_layer
    return total / 1024


def fixed_gib(figures: dict, precision: str) -> float:
    """Weights, gradients, AdamW's moments (16 bytes a parameter) and the bf16 weight copies."""
    copies = figures[precision]["outside_layers"]["fixed"] + 12 * figures[precision]["per_layer"]["fixed"]
    return 16 * figures["parameters"] / GiB + copies / 1024


def fits(figures: dict, precision: str, gpu_gib: int, frames: int, checkpointing: bool, **shape) -> int:
    """The largest batch whose fixed share, activations and the output layer's backward buffer fit."""
    free = gpu_gib - CUDA_RESERVE_GIB - fixed_gib(figures, precision)
    shape = {"text_tokens": BASE["text_tokens"], "targets": BASE["targets"]} | shape
    video = per_video_gib(figures, precision, frames, checkpointing=checkpointing, **shape)
    video += 4 * MT5_BASE["vocab_size"] * shape["targets"] / GiB  # the log-probabilities' gradient
    return max(0, math.floor(free / video))


def table(figures: dict) -> list[dict]:
    rows = []
    for precision in ("bfloat16", "float32"):
        for frames in (200, 300, 400):
            for checkpointing in (False, True):
                row = {"precision": precision, "frames": frames, "gradient_checkpointing": checkpointing,
                       "fixed_gib": round(fixed_gib(figures, precision), 2),
                       "per_video_gib": round(per_video_gib(figures, precision, frames, BASE["text_tokens"],
                                                            BASE["targets"], checkpointing=checkpointing), 3)}  # fmt: skip
                row |= {f"batch_{gpu}gb": fits(figures, precision, gpu, frames, checkpointing) for gpu in GPUS}
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write the figures and the table as JSON")
    args = parser.parse_args()
    figures = activation_figures()
    rows = table(figures)
    print(json.dumps(figures, indent=2))
    print(
        "| precision | frames | checkpointing | fixed GiB | GiB per video | "
        + " | ".join(f"{g} GB" for g in GPUS)
        + " |"
    )
    for r in rows:
        print(f"| {r['precision']} | {r['frames']} | {r['gradient_checkpointing']} | {r['fixed_gib']} | "
              f"{r['per_video_gib']} | " + " | ".join(str(r[f"batch_{g}gb"]) for g in GPUS) + " |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"activations_mib": figures, "table": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
