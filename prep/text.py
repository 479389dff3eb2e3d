"""Description features: load a T5-family encoder with ``from_pretrained`` and encode text into pooled vectors.

The encoder runs in inference mode on batches sorted by token length (less padding), and pooling always uses
the attention mask, so a description encodes the same alone and beside much longer ones.

>>> encoder = load_encoder("google/mt5-base")                      # doctest: +SKIP
>>> encode(encoder, ["一位女士在室内打手语。"]).features.shape      # doctest: +SKIP
(1, 768)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import transformers
from tqdm import tqdm

from . import schemas
from .errors import InputError, StoreError
from .store import Store
from .store.store import now
from .tables import read_rows

_PROVENANCE = schemas.load("store")["$defs"]["text_provenance"]["properties"]
POOLINGS = tuple(_PROVENANCE["pooling"]["enum"])  # mean, first, max
DTYPES = {name: getattr(torch, name) for name in _PROVENANCE["dtype"]["enum"]}  # float32, bfloat16, float16
# model_type in config.json -> the transformers class holding only its encoder
ENCODER_CLASSES = {"mt5": "MT5EncoderModel", "t5": "T5EncoderModel", "umt5": "UMT5EncoderModel"}
# The files of a model folder that go into its hash (weights, configs, vocabularies), not READMEs or other
# frameworks' weights.
HASHED_SUFFIXES = (".json", ".model", ".safetensors", ".bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
STORE_COLUMN = "videos/description"


# ---------------------------------------------------------------------- loading
@dataclass
class Encoder:
    """A loaded encoder: tokenizer and model on their device, with what identifies them."""

    name: str  # what was given to from_pretrained: a hub id, or the folder's absolute path
    revision: str  # the hub commit, or the sha256 of the folder's files
    tokenizer: transformers.PreTrainedTokenizerBase
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype

    @property
    def dim(self) -> int:
        return int(self.model.config.d_model)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` is CUDA when present, else CPU; asking for CUDA without it is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            f"--device {device}: CUDA is not available here (torch {torch.__version__}, "
            f"{'built without CUDA' if torch.version.cuda is None else 'no GPU visible'}). "
            "Use --device cpu, or --device auto to take a GPU only when there is one."
        )
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` is bfloat16 on a GPU that supports it, else float32 (T5 models overflow in float16)."""
    if dtype == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return DTYPES[dtype]


def load_encoder(name_or_path: str, device: str = "auto", dtype: str = "auto") -> Encoder:
    """Load the encoder of a T5-family checkpoint (mT5, T5, umT5) from a hub id or a local folder.

    Raises InputError when the folder does not exist, holds no model, holds another kind of model, or its
    weights do not cover the encoder. A local folder never touches the network.
    """
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    folder = Path(name_or_path).expanduser()
    if folder.exists():
        if not (folder / "config.json").is_file():
            raise InputError(
                f"--model {name_or_path}: no config.json there; give a folder written by save_pretrained or "
                "downloaded with `hf download MODEL --local-dir FOLDER`"
            )
        source = str(folder.resolve())
    elif not HUB_ID.match(name_or_path):
        raise InputError(f"--model {name_or_path}: no such folder")
    else:
        source = name_or_path

    try:
        config = transformers.AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise InputError(_cannot_load(name_or_path, e)) from e
    class_name = ENCODER_CLASSES.get(config.model_type)
    if class_name is None:
        raise InputError(
            f"--model {name_or_path}: a {config.model_type!r} model; encode-text needs a T5-family encoder "
            f"({', '.join(ENCODER_CLASSES)}), e.g. google/mt5-base"
        )
    try:
        tokenizer = load_tokenizer(source)
        with quiet_transformers():
            model, info = getattr(transformers, class_name).from_pretrained(
                source, dtype=torch_dtype, output_loading_info=True
            )
    except (OSError, ValueError, RuntimeError) as e:  # RuntimeError: tensors of the wrong shape
        raise InputError(_cannot_load(name_or_path, e)) from e
    if info["missing_keys"]:
        missing = sorted(info["missing_keys"])
        raise InputError(
            f"--model {name_or_path}: its weights lack {len(missing)} encoder tensors ({', '.join(missing[:3])}, ...); "
            "the checkpoint does not match its config.json"
        )
    revision = folder_hash(folder) if folder.exists() else _hub_revision(source)
    return Encoder(source, revision, tokenizer, model.to(torch_device).eval(), torch_device, torch_dtype)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and load report while loading or saving a model. The report lists
    the decoder weights that an encoder leaves out, which is expected; real problems are raised."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _cannot_load(name: str, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"--model {name}: cannot load it ({reason}). A hub id needs internet access or the hub cache; on a "
        f"machine without it, download the model elsewhere (`hf download {name} --local-dir mt5`), copy the "
        "folder here and pass --model mt5"
    )


def load_tokenizer(name_or_path: str) -> transformers.PreTrainedTokenizerBase:
    """The checkpoint's tokenizer. A SentencePiece-only checkpoint (``spiece.model``, no ``tokenizer.json``, as
    older uploads are) is converted here: transformers' own conversion needs protobuf >= 5, which mediapipe
    0.10.21 rules out."""
    find = transformers.utils.cached_file
    has_json = find(name_or_path, "tokenizer.json", _raise_exceptions_for_missing_entries=False)
    spiece = None if has_json else find(name_or_path, "spiece.model", _raise_exceptions_for_missing_entries=False)
    if spiece is None:
        return transformers.AutoTokenizer.from_pretrained(name_or_path)
    config_file = find(name_or_path, "tokenizer_config.json", _raise_exceptions_for_missing_entries=False)
    config = json.loads(Path(config_file).read_text(encoding="utf-8")) if config_file else {}
    return t5_tokenizer_from_spiece(spiece, extra_ids=config.get("extra_ids") or 0)


def t5_tokenizer_from_spiece(spiece_model: str | Path, extra_ids: int = 0) -> transformers.T5Tokenizer:
    """A T5 tokenizer (the ``tokenizers`` backend) built from a SentencePiece Unigram model file: its pieces with
    their scores, and its normalisation (the precompiled character map). Ids match SentencePiece's own."""
    from transformers.utils import sentencepiece_model_pb2_new as model_pb2  # works with protobuf 4 and 5

    proto = model_pb2.ModelProto()
    proto.ParseFromString(Path(spiece_model).read_bytes())
    return transformers.T5Tokenizer(
        vocab=[(piece.piece, piece.score) for piece in proto.pieces],
        _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap or None,
        extra_ids=extra_ids,
    )


def folder_hash(folder: Path) -> str:
    """sha256 over the names and contents of a model folder's weights, configs and vocabularies."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in HASHED_SUFFIXES
        and not any(s.startswith(".") for s in p.relative_to(folder).parts)
    )
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _hub_revision(repo_id: str) -> str:
    revision = transformers.utils.hub.resolve_revision(repo_id)
    return getattr(revision, "resolved", None) or "unknown"


# ---------------------------------------------------------------------- encoding
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


def encode_store(
    store: Store,
    encoder: Encoder,
    descriptions: Descriptions,
    *,
    pooling: str = "mean",
    batch_size: int = 32,
    max_length: int = 512,
    keep_tokens: bool = False,
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
    provenance = {
        "model": encoder.name,
        "revision": encoder.revision,
        "pooling": pooling,
        "max_length": max_length,
        "dtype": str(encoder.dtype).removeprefix("torch."),
        "device": str(encoder.device),
        "created": now(),
        "dim": encoder.dim,
        "n_with_text": int(rows.size),
        "n_empty": n_empty,
        "n_truncated": encoded.n_truncated,
        "source": descriptions.source,
        "keep_tokens": keep_tokens,
    }
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
