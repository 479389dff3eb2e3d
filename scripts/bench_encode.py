"""Benchmark `mmprep encode-text`'s encoding: length-sorted batches against one description at a time.

Same model (random weights, built locally with build_tiny_mt5 and loaded with from_pretrained, as users load
a checkpoint) and the same synthetic descriptions of varied lengths (CSL-Daily has 449 described videos).
On CPU the model is mt5-small sized in float32; with CUDA it is mt5-base sized in bfloat16.

    python scripts/bench_encode.py              # 449 descriptions
    python scripts/bench_encode.py --n 100      # a quick run
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from prep.text.encode import encode
from prep.text.hub import load_encoder
from prep.text.tiny_mt5 import build_tiny_mt5

SIZES = {  # d_model, layers, heads, d_kv, d_ff, vocabulary: as google/mt5-small and google/mt5-base
    "mt5-small": dict(d_model=512, num_layers=8, num_heads=6, d_kv=64, d_ff=1024, vocab_size=32_000),
    "mt5-base": dict(d_model=768, num_layers=12, num_heads=12, d_kv=64, d_ff=2048, vocab_size=250_112),
}
SUBJECTS = ["一位女士", "一个男人", "一位老人", "两个年轻人", "一名手语翻译员", "The signer", "A woman", "An old man"]
PLACES = ["在明亮的室内", "在公园里", "站在白色背景前", "坐在桌子旁边", "in a bright room", "outdoors near a tree"]
ACTIONS = [
    "慢慢地打手语",
    "双手在胸前快速移动",
    "面向镜头微笑",
    "重复了两次同一个手势",
    "用右手指向自己",
    "signs quickly with both hands",
    "looks at the camera while signing",
]
DETAILS = [
    "穿着蓝色的衬衫",
    "戴着眼镜",
    "头发很短",
    "背景里有一扇窗户",
    "光线有点暗",
    "wears a red jacket",
    "the video is slightly blurred",
    "表情很认真，好像在讲一个重要的故事",
]


def synthetic_descriptions(n: int, seed: int = 0) -> list[str]:
    """n descriptions from a few clauses to a paragraph (roughly 10 to 250 characters)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        clauses = [rng.choice(SUBJECTS) + rng.choice(PLACES) + rng.choice(ACTIONS)]
        clauses += [rng.choice(DETAILS + ACTIONS) for _ in range(min(int(rng.lognormvariate(1.0, 0.9)), 14))]
        texts.append("，".join(clauses) + "。")
    return texts


def batch_shapes(lengths: list[int], batch_size: int, sort: bool) -> list[tuple[int, int]]:
    """(rows, padded length) of each batch, as prep.text.encode forms them."""
    order = sorted(lengths, reverse=True) if sort else lengths
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [(len(b), max(b)) for b in batches]


def encoder_flops(size: dict, shapes: list[tuple[int, int]]) -> float:
    """Floating-point operations of the encoder's matrix products over batches of these shapes (padding
    included): per layer and position, the q/k/v/o projections, the attention over the padded length and the
    gated feed-forward (mT5's wi_0, wi_1, wo)."""
    inner = size["num_heads"] * size["d_kv"]
    total = 0.0
    for rows, length in shapes:
        per_position = 8 * size["d_model"] * inner + 4 * length * inner + 6 * size["d_model"] * size["d_ff"]
        total += rows * length * per_position * size["num_layers"]
    return total


def peak_rate(size: dict, rows: int = 2048) -> float:
    """GFLOP/s of a large feed-forward product [rows, d_model] @ [d_model, d_ff]: what this CPU's matrix
    products reach at best, in this process's precision and threads."""
    a, b = torch.randn(rows, size["d_model"]), torch.randn(size["d_model"], size["d_ff"])
    repeats = max(5, int(2e10 / (2 * rows * size["d_model"] * size["d_ff"])))
    with torch.inference_mode():
        a @ b
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        seconds = time.perf_counter() - start
    return 2 * rows * size["d_model"] * size["d_ff"] * repeats / seconds / 1e9


def timed(encoder, texts, **options) -> float:
    encode(encoder, texts[: options.get("batch_size", 1)], **options)  # warm-up
    if encoder.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    encode(encoder, texts, **options)
    if encoder.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=449, help="descriptions to encode (default 449)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    size, device, dtype = ("mt5-base", "cuda", "bfloat16") if cuda else ("mt5-small", "cpu", "float32")
    texts = synthetic_descriptions(args.n)
    with tempfile.TemporaryDirectory() as folder:
        # Pieces of at most two characters, as mT5 cuts Chinese; a corpus this repetitive would learn whole phrases.
        build_tiny_mt5(texts + synthetic_descriptions(2000, seed=1), folder, max_piece_length=2, **SIZES[size])
        encoder = load_encoder(folder, device=device, dtype=dtype)
        lengths = [len(ids) for ids in encoder.tokenizer(texts)["input_ids"]]
        print(
            f"{size}-sized random model, {dtype} on {device} ({torch.get_num_threads()} CPU threads); "
            f"{len(texts)} descriptions, {min(lengths)}-{max(lengths)} tokens (median {sorted(lengths)[len(lengths) // 2]})"
        )
        runs = [
            ("one at a time (baseline)", dict(batch_size=1), batch_shapes(lengths, 1, sort=False)),
            (f"batches of {args.batch_size}, input order", dict(batch_size=args.batch_size, sort_by_length=False),
             batch_shapes(lengths, args.batch_size, sort=False)),
            (f"batches of {args.batch_size}, sorted by length", dict(batch_size=args.batch_size),
             batch_shapes(lengths, args.batch_size, sort=True)),
        ]  # fmt: skip
        print(f"{'mode':<36} {'seconds':>8} {'desc/s':>8} {'padding':>8} {'GFLOP/s':>8} {'speed-up':>9}")
        baseline = None
        for name, options, shapes in runs:
            seconds = timed(encoder, texts, **options)
            baseline = baseline or seconds
            padding = 1 - sum(lengths) / sum(rows * length for rows, length in shapes)
            rate = encoder_flops(SIZES[size], shapes) / seconds / 1e9
            print(
                f"{name:<36} {seconds:8.2f} {len(texts) / seconds:8.1f} {padding:8.0%} {rate:8.0f} "
                f"{baseline / seconds:8.1f}x",
                flush=True,
            )
        if not cuda:
            # The most any batching could gain: the sorted batches' operations at the CPU's peak rate. One
            # description at a time already reaches a good share of that peak on a CPU.
            peak = peak_rate(SIZES[size])
            fastest = encoder_flops(SIZES[size], runs[-1][2]) / (peak * 1e9)
            print(
                f"ceiling: this CPU's matrix products peak at {peak:.0f} GFLOP/s; the sorted batches' operations at "
                f"that rate would take {fastest:.2f} s, at most {baseline / fastest:.1f}x the baseline"
            )


if __name__ == "__main__":
    main()
