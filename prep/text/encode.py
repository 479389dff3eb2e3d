"""Description features: encode text into pooled vectors and write them into the store.

The encoder runs in inference mode on batches sorted by token length (less padding), and pooling always uses
the attention mask, so a description encodes the same alone and beside much longer ones.

>>> encoder = load_encoder("google/mt5-base")                      # doctest: +SKIP
>>> encode(encoder, ["一位女士在室内打手语。"]).features.shape      # doctest: +SKIP
(1, 768)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import schemas
from ..errors import InputError, StoreError
from ..store import Store, now
from ..tables import read_rows
from .hub import Encoder

POOLINGS = tuple(schemas.load("store")["$defs"]["text_provenance"]["properties"]["pooling"]["enum"])  # mean, first, max
STORE_COLUMN = "videos/description"


@dataclass
class Encoded:
    """Pooled features of a list of texts, in the order given."""

    features: np.ndarray  # float32 [N, D]
    n_truncated: int
    truncated: list[int] = field(default_factory=list)  # positions of the texts cut at max_length
    token_features: list[np.ndarray] | None = None  # float32 [L_i, D] per text, padding excluded


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool ``hidden`` [B, L, D] over the positions where ``mask`` [B, L] is 1; padding never counts."""
    hidden = hidden.float()
    keep = mask.bool().unsqueeze(-1)
    if pooling == "mean":
        return (hidden * keep).sum(1) / keep.sum(1).clamp(min=1)
    if pooling == "first":
        return hidden[:, 0]
    if pooling == "max":
        return hidden.masked_fill(~keep, float("-inf")).amax(1)
    raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")


def encode(
    encoder: Encoder,
    texts: list[str],
    *,
    pooling: str = "mean",
    batch_size: int = 32,
    max_length: int = 512,
    keep_tokens: bool = False,
    sort_by_length: bool = True,
    progress: bool = False,
) -> Encoded:
    """Encode ``texts`` with the encoder only, in batches of ``batch_size`` sorted by token length (longest
    first, so running out of memory shows at once); texts longer than ``max_length`` tokens are truncated."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    tokenizer = encoder.tokenizer
    full_lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]] if texts else []
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"] if texts else []
    truncated = [i for i, n in enumerate(full_lengths) if n > max_length]
    order = sorted(range(len(texts)), key=lambda i: -len(ids[i])) if sort_by_length else list(range(len(texts)))

    features = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    tokens: list[np.ndarray | None] = [None] * len(texts)
    bar = tqdm(total=len(texts), desc="encoding", unit="text", disable=not progress or None)
    with torch.inference_mode(), bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            input_ids, mask = input_ids.to(encoder.device), mask.to(encoder.device)
            hidden = encoder.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            features[batch] = pool(hidden, mask, pooling).cpu().numpy()
            if keep_tokens:
                hidden = hidden.float().cpu().numpy()
                for row, i in enumerate(batch):
                    tokens[i] = hidden[row, : len(ids[i])].copy()
            bar.update(len(batch))
    if not np.isfinite(features).all():
        raise InputError(
            f"the encoder produced non-finite features in {encoder.dtype}; T5 models overflow in float16: "
            "use --dtype bfloat16 or float32"
        )
    return Encoded(features, len(truncated), truncated, tokens if keep_tokens else None)


# ---------------------------------------------------------------------- the store's text features
@dataclass
class Descriptions:
    """Descriptions aligned with a store's rows."""

    texts: list[str]  # one per row; '' where none was given
    given: np.ndarray  # bool per row: the input had an entry for it (possibly blank)
    source: str  # the file, or videos/description
    unknown: list[str] = field(default_factory=list)  # ids of the file that the store does not have (skipped)


def read_descriptions(store: Store, path: str | Path | None = None, ignore_unknown: bool = False) -> Descriptions:
    """The descriptions to encode: a file of ``id, description`` rows (schemas/description-row.schema.json), or
    with no file the store's description column (from `mmprep manifest` or `mmprep synth`)."""
    if store.n_rows == 0:
        raise StoreError(f"{store.url} has no videos yet; add them with `mmprep manifest FILE --store {store.url}`")
    if path is None:
        texts = [str(t) for t in store.column("description")]
        if not any(t.strip() for t in texts):
            raise StoreError(
                f"the description column of {store.url} is empty: give a descriptions file "
                "(`mmprep encode-text descriptions.jsonl`), or attach a manifest with a description column "
                "(`mmprep manifest FILE`)"
            )
        return Descriptions(texts, np.array([t != "" for t in texts], dtype=bool), STORE_COLUMN)

    rows = read_rows(path, "description-row")
    known = set(store.ids)
    unknown = [r["id"] for r in rows if r["id"] not in known]
    if unknown and not ignore_unknown:
        shown = ", ".join(unknown[:20]) + (f", ... ({len(unknown) - 20} more)" if len(unknown) > 20 else "")
        raise InputError(
            f"{path}: {len(unknown)} id(s) are not in {store.url}: {shown}. Check they match the manifest's ids "
            "(`mmprep manifest FILE` adds videos), or pass --ignore-unknown to encode the others."
        )
    texts, given = [""] * store.n_rows, np.zeros(store.n_rows, dtype=bool)
    for row in rows:
        if row["id"] in known:
            i = store.row(row["id"])
            texts[i], given[i] = row["description"], True
    return Descriptions(texts, given, str(Path(path).resolve()), unknown)


@dataclass
class TextSummary:
    """What `encode_store` did, for the report."""

    generation: int
    dim: int
    n_rows: int
    n_with_text: int
    n_empty: int
    n_truncated: int
    truncated_ids: list[str]
    n_unknown: int
    mask_init_stale: bool


def encoder_provenance(encoder: Encoder, pooling: str, max_length: int) -> dict:
    """What the text features came from: enough to encode a new description as the store's were encoded."""
    return {"model": encoder.name, "revision": encoder.revision, "pooling": pooling, "max_length": max_length,
            "dtype": str(encoder.dtype).removeprefix("torch."), "device": str(encoder.device), "dim": encoder.dim}  # fmt: skip


def encode_store(
    store: Store,
    encoder: Encoder,
    descriptions: Descriptions,
    *,
    pooling: str = "mean",
    batch_size: int = 32,
    max_length: int = 512,
    keep_tokens: bool = True,
    progress: bool = True,
) -> TextSummary:
    """Encode the descriptions and replace the store's text features in one step (a new text generation, with
    its provenance). Empty or whitespace-only descriptions count as no text; any mask_init becomes stale."""
    has_text = np.array([bool(t.strip()) for t in descriptions.texts], dtype=bool)
    rows = np.flatnonzero(has_text)
    encoded = encode(
        encoder,
        [descriptions.texts[i] for i in rows],
        pooling=pooling,
        batch_size=batch_size,
        max_length=max_length,
        keep_tokens=keep_tokens,
        progress=progress,
    )
    features = np.zeros((store.n_rows, encoder.dim), dtype=np.float32)
    features[rows] = encoded.features
    token_features = token_count = None
    if keep_tokens:
        token_count = np.zeros(store.n_rows, dtype=np.int64)
        token_count[rows] = [len(t) for t in encoded.token_features]
        token_features = (
            np.concatenate(encoded.token_features) if rows.size else np.zeros((0, encoder.dim), dtype=np.float32)
        )  # rows are ascending, so the tokens are in row order
    n_empty = int((descriptions.given & ~has_text).sum())
    provenance = {**encoder_provenance(encoder, pooling, max_length), "created": now(), "n_with_text": int(rows.size),
                  "n_empty": n_empty, "n_truncated": encoded.n_truncated, "source": descriptions.source,
                  "keep_tokens": keep_tokens}  # fmt: skip
    had_mask = store.mask_init_info is not None
    stored = [t if keep else "" for t, keep in zip(descriptions.texts, has_text, strict=True)]
    generation = store.write_text(has_text, stored, features, provenance, token_features, token_count)
    return TextSummary(
        generation=generation,
        dim=encoder.dim,
        n_rows=store.n_rows,
        n_with_text=int(rows.size),
        n_empty=n_empty,
        n_truncated=encoded.n_truncated,
        truncated_ids=[store.ids[rows[i]] for i in encoded.truncated],
        n_unknown=len(descriptions.unknown),
        mask_init_stale=had_mask,
    )
