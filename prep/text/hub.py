"""Loading a T5-family text encoder and its tokenizer with ``from_pretrained``, and the device every stage runs on.

>>> encoder = load_encoder("google/mt5-base")      # doctest: +SKIP
>>> encoder.dim                                     # doctest: +SKIP
768
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers

from .. import schemas
from ..errors import InputError

_PROVENANCE = schemas.load("store")["$defs"]["text_provenance"]["properties"]
DTYPES = {name: getattr(torch, name) for name in _PROVENANCE["dtype"]["enum"]}  # float32, bfloat16, float16
# model_type in config.json -> the transformers class holding only its encoder
ENCODER_CLASSES = {"mt5": "MT5EncoderModel", "t5": "T5EncoderModel", "umt5": "UMT5EncoderModel"}
# The files of a model folder that go into its hash (weights, configs, vocabularies), not READMEs or other
# frameworks' weights.
HASHED_SUFFIXES = (".json", ".model", ".safetensors", ".bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


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


def resolve_device(device: str = "auto", local_rank: int = 0) -> torch.device:
    """The device every stage runs on. ``auto`` is CUDA when present, else CPU; ``cuda`` (or ``auto`` on a GPU
    machine) is this process's GPU, ``cuda:<local_rank>`` under torchrun; asking for CUDA without it is an error."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            f"--device {device}: CUDA is not available here (torch {torch.__version__}, "
            f"{'built without CUDA' if torch.version.cuda is None else 'no GPU visible'}). "
            "Use --device cpu, or --device auto to take a GPU only when there is one."
        )
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if device in ("auto", "cuda"):
        return torch.device("cuda", local_rank)
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
