"""What a training run is built from its configuration: the data, the model and its backbone, the loaders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.dataset import PoseDataset, collate, model_input
from ..data.sampler import StratifiedBatchSampler
from ..errors import InputError, StoreError
from ..model.fusion import split_placeholder
from ..model.strategies import PlaceholderSchedule, TextDropout
from ..model.translation import ModelConfig, SignTranslationModel
from ..store import Store, default_url, open_store
from .backbone import create_backbone, rebuild_backbone
from .distributed import Dist


@dataclass
class TrainingData:
    train_set: PoseDataset
    dev_set: PoseDataset
    text_dim: int
    train_text: torch.Tensor | None  # the training split's description features [N, D]: the text statistics
    mean_text: torch.Tensor | None  # the mean train-split text feature: the mask embedding's cosine is logged to it
    mask_init: torch.Tensor | None  # the mask embedding's initial value, when the model has one
    text_tokens: bool  # whether the model reads the descriptions' per-token features (``text_tokens`` resolved)


def text_dropout_from(config: dict) -> TextDropout:
    value = config["text_dropout"]
    mode = value if value in ("none", "adaptive") else "fixed"
    rate = float(value) if mode == "fixed" else 0.0
    return TextDropout(mode, rate, config["dropout_base"], config["dropout_lambda"], config["dropout_unit"])


def placeholder_schedule(config: dict) -> PlaceholderSchedule | None:
    return PlaceholderSchedule.parse(config["placeholder_schedule"]) if config["placeholder_schedule"] else None


def load_data(config: dict, schedule: PlaceholderSchedule | None) -> TrainingData:
    """The train and dev datasets, and the text statistics that come from the training split only."""
    store = open_store(config["store"] or default_url(), storage_options=config["storage_options"])
    _check_store(store, config)
    text_tokens = uses_text_tokens(config, store)
    data_options = {**model_input(config, text_tokens), "cache": config["cache"]}
    train_set = PoseDataset(
        store, split=config["train_split"], augment=config["augment"], tempo_warp=config["tempo_warp"], **data_options
    )
    dev_set = PoseDataset(store, split=config["dev_split"], **data_options)
    features, has_text = store.text_features, store.has_text  # each a read of the store: once, not per row
    train_rows = [store.row(i) for i in train_set.ids]
    with_text = [r for r in train_rows if has_text[r]]
    train_text = torch.from_numpy(features[with_text]) if with_text else None
    mean_text = train_text.mean(0) if with_text else None
    text_dim = features.shape[1]
    mask_init = _mask_init(store, config, schedule, text_dim)
    return TrainingData(train_set, dev_set, text_dim, train_text, mean_text, mask_init, text_tokens)


def uses_text_tokens(config: dict, store: Store) -> bool:
    """``text_tokens``, where null (the default) means: whenever the fusion is token and the store holds
    per-token description features."""
    if config["text_tokens"] is not None:
        return config["text_tokens"]
    provenance = store.text_provenance or {}
    return config["fusion"] == "token" and bool(provenance.get("keep_tokens"))


def _check_store(store: Store, config: dict) -> None:
    splits = store.column("split")
    for split in (config["train_split"], config["dev_split"]):
        if not (splits == split).any():
            raise StoreError(f"{store.url} has no {split!r} videos; give the videos splits with `mmprep manifest FILE`")
    if store.text_features is None:
        raise StoreError(f"{store.url} has no text features; run `mmprep encode-text --store {store.url}` first")


def _mask_init(store: Store, config: dict, schedule: PlaceholderSchedule | None, text_dim: int) -> torch.Tensor | None:
    kinds = schedule.kinds if schedule else (split_placeholder(config["placeholder"])[0],)
    if "mask" not in kinds:
        return None
    if config["mask_init"] == "random":
        generator = torch.Generator().manual_seed(config["seed"])
        return torch.randn(text_dim, generator=generator) * 0.01
    info = store.mask_init_info
    if info is None:
        raise StoreError(
            f"{store.url} has no mask_init for the mask placeholder; run `mmprep init-mask --store {store.url}` "
            "(or pass --mask-init random)"
        )
    if not info["current"]:
        raise StoreError(
            f"{store.url}: mask_init is stale (the text features changed since it was computed); rerun "
            f"`mmprep init-mask --store {store.url}`"
        )
    return torch.from_numpy(store.mask_init)


def build_model(
    config: dict,
    data: TrainingData,
    schedule: PlaceholderSchedule | None,
    run_dir: Path,
    dist: Dist,
    resume: dict | None = None,
) -> tuple[SignTranslationModel, object]:
    """(model, tokenizer): a new backbone written into the run directory, or the run's own when resuming from the
    model state ``resume`` (whose weights the caller loads)."""
    if resume is not None:
        backbone, tokenizer = rebuild_backbone(run_dir, resume)
    elif dist.is_main:
        backbone, tokenizer = create_backbone(config, data.train_set.translations, run_dir, config["seed"])
        dist.barrier()
    else:  # rank 0 writes the backbone; DDP then copies rank 0's weights to every rank
        dist.barrier()
        backbone, tokenizer = rebuild_backbone(run_dir)
    if config["gradient_checkpointing"]:  # each layer's activations recomputed in the backward pass
        enable = getattr(backbone, "activation_checkpointing_enable", None) or backbone.gradient_checkpointing_enable
        enable()  # transformers 5 renamed it
    glosses = gloss_vocabulary(data.train_set.glosses) if config["ctc_weight"] > 0 else ()
    model_config = ModelConfig(
        n_points=len(data.train_set.point_names),
        text_dim=data.text_dim,
        placeholder=config["placeholder"],
        placeholder_kinds=schedule.kinds if schedule else (),
        fusion=config["fusion"],
        text_tokens=data.text_tokens,
        text_prior=config["text_prior"],
        # Both refine the prior: without it (--no-text-prior) they have nothing to act on.
        prior_coverage=config["prior_coverage"] and config["text_prior"],
        prior_tokens=config["prior_tokens"] and config["text_prior"] and data.text_tokens,
        gate_bias=config["gate_bias"],
        noise_scale=config["noise_scale"],
        pose_layers=config["pose_layers"],
        pose_kernel=config["pose_kernel"],
        pose_stride=config["pose_stride"],
        pose_velocity=config["pose_velocity"],
        pose_positions=config["pose_positions"],
        dropout=config["dropout"],
        glosses=glosses,
        gloss_input=config["gloss_input"] and bool(glosses),  # nothing to read without a gloss head
    )
    model = SignTranslationModel(backbone, model_config, data.mask_init)
    if data.train_text is not None:  # a resumed run's statistics come back with its weights
        model.placeholder.set_statistics(data.train_text)
    tokens = [t for t in data.train_set.token_features or () if t is not None]
    if data.text_tokens and tokens:
        model.fusion.set_token_statistics(torch.from_numpy(np.concatenate(tokens)))
    return model, tokenizer


def gloss_vocabulary(glosses: list[str]) -> tuple[str, ...]:
    """The glosses of the training split's videos, sorted (empty when the store has none)."""
    return tuple(sorted({g for text in glosses for g in text.split()}))


def build_loaders(
    config: dict, data: TrainingData, dist: Dist
) -> tuple[StratifiedBatchSampler, DataLoader, DataLoader]:
    """(sampler, train loader, dev loader): stratified batches of this process's share of each epoch."""
    seed = config["seed"]
    try:
        sampler = StratifiedBatchSampler(
            data.train_set.has_text,
            config["batch_size"],
            text_ratio=config["text_ratio"],
            lengths=data.train_set.lengths if config["bucket"] else None,
            seed=seed,
            num_replicas=dist.world_size,
            rank=dist.rank,
        )
    except ValueError as e:  # e.g. --batch-size 1: every batch holds videos with text and videos without
        raise InputError(
            f"cannot make the training batches: {e}. Each batch holds the split's share of videos with text and "
            "at least one of each group (docs/data.md#stratifiedbatchsampler): give a larger --batch-size "
            "(--grad-accum N steps once per N batches), or another --text-ratio"
        ) from e
    loader = DataLoader(
        data.train_set,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=config["num_workers"],
        # Its own generator: each new iterator draws a seed, which must not shift the global random stream
        # (a resumed run creates one more iterator than an uninterrupted one).
        generator=torch.Generator().manual_seed(seed),
    )
    dev_indices = range(min(len(data.dev_set), config["eval_max_videos"] or len(data.dev_set)))
    dev_loader = DataLoader(
        torch.utils.data.Subset(data.dev_set, dev_indices), batch_size=config["batch_size"], collate_fn=collate
    )
    return sampler, loader, dev_loader
