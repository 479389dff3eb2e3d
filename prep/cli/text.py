"""Commands about description features: encode-text, init-mask."""

from __future__ import annotations

import click

from .. import schemas
from ..store import open_store
from ..text.mask_init import init_mask
from .base import main
from .options import store_option

DEFAULT_MODEL = "google/mt5-base"
# The choices come from the provenance schema; prep.text (torch, transformers) is imported only when encoding.
PROVENANCE = schemas.load("store")["$defs"]["text_provenance"]["properties"]


@main.command(name="encode-text")
@click.argument("descriptions", required=False, type=click.Path(exists=True, dir_okay=False))
@store_option
@click.option(
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    help="A hub id or a local folder (config.json, weights, tokenizer) of an mT5/T5/umT5 checkpoint.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto: CUDA when present, else CPU.",
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", *PROVENANCE["dtype"]["enum"]]),
    default="auto",
    show_default=True,
    help="auto: bfloat16 on a GPU, float32 on CPU. Features are stored as float32 either way.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Descriptions per batch.")
@click.option(
    "--max-length",
    type=click.IntRange(min=2),
    default=512,
    show_default=True,
    help="Longer descriptions are cut to this many tokens (counted in the report).",
)
@click.option(
    "--pooling",
    type=click.Choice(PROVENANCE["pooling"]["enum"]),
    default="mean",
    show_default=True,
    help="How token features become one vector: mean or max over the tokens, or the first token.",
)
@click.option(
    "--keep-tokens/--no-keep-tokens",
    default=True,
    show_default=True,
    help="Also store every token's feature (store.token_features(id)), which token fusion reads "
    "(train --text-tokens); a few hundred descriptions take a few MB.",
)
@click.option("--ignore-unknown", is_flag=True, help="Skip ids the store does not have instead of refusing.")
def encode_text(descriptions, store_url, storage_options, model, device, dtype, batch_size, max_length, pooling,
                keep_tokens, ignore_unknown):  # fmt: skip
    """Encode video descriptions with an mT5 encoder into the store's text features.

    DESCRIPTIONS is a CSV, TSV or JSONL file of `id, description` rows (schemas/description-row.schema.json);
    without it, the store's description column (from `mmprep manifest` or `mmprep synth`) is encoded. Videos
    without a description, or with an empty or whitespace-only one, have no text (feature all zeros).
    The new features replace the old ones in one step; a mask_init computed before becomes stale.

    \b
    Examples:
      mmprep encode-text descriptions.jsonl --store csl.zarr
      mmprep encode-text --model ~/models/mt5-base --device cuda --batch-size 64
    """
    from ..text.encode import encode_store, read_descriptions
    from ..text.hub import load_encoder

    with open_store(store_url, mode="a", storage_options=storage_options, create=False) as store:
        texts = read_descriptions(store, descriptions, ignore_unknown=ignore_unknown)
        click.echo(f"loading {model} ...", err=True)
        encoder = load_encoder(model, device=device, dtype=dtype)
        summary = encode_store(
            store,
            encoder,
            texts,
            pooling=pooling,
            batch_size=batch_size,
            max_length=max_length,
            keep_tokens=keep_tokens,
        )
    dtype_name = str(encoder.dtype).removeprefix("torch.")
    click.echo(
        f"{store_url}: encoded {summary.n_with_text} of {summary.n_rows} videos' descriptions with {encoder.name} "
        f"({summary.dim}-d, {pooling} pooling, {dtype_name} on {encoder.device}); text generation {summary.generation}"
    )
    click.echo(
        f"  without text: {summary.n_rows - summary.n_with_text} video(s), {summary.n_empty} of them with an empty "
        "or whitespace-only description"
    )
    shown = ", ".join(summary.truncated_ids[:10]) + (", ..." if summary.n_truncated > 10 else "")
    click.echo(f"  truncated at {max_length} tokens: {summary.n_truncated}" + (f" ({shown})" if shown else ""))
    if summary.n_unknown:
        click.echo(f"  skipped {summary.n_unknown} id(s) the store does not have (--ignore-unknown)")
    if summary.mask_init_stale:
        click.echo(f"  mask_init is stale now: rerun `mmprep init-mask --store {store_url}`")


@main.command(name="init-mask")
@store_option
@click.option(
    "--split",
    type=click.Choice(["train"]),
    default="train",
    show_default=True,
    help="The split whose descriptions are averaged: train only, as dev and test descriptions must never shape "
    "the model.",
)
def init_mask_command(store_url, storage_options, split):
    """Store mask_init: the mean text feature over the training videos that have text.

    It is the initial value of the learnable "text missing" embedding. Refused when no training video has
    text; a warning under 10. `mmprep info` shows it, and whether the text features changed since.

    \b
    Example:
      mmprep init-mask --store csl.zarr
    """
    with open_store(store_url, mode="a", storage_options=storage_options, create=False) as store:
        result = init_mask(store, split)
        dim = result.vector.shape[0]
    if result.warning:
        click.echo(f"warning: {result.warning}", err=True)
    info, stats = result.info, result.info["stats"]
    click.echo(
        f"{store_url}: mask_init = mean of {info['n_videos']} {split} videos' text features ({dim}-d, text "
        f"generation {info['text_generation']}); norm {stats['norm']:.4f}, cosine to it "
        f"{stats['cosine_mean']:.3f} ± {stats['cosine_std']:.3f}"
    )
