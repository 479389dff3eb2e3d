"""A trained run, ready to evaluate: its model with a checkpoint's weights, its tokenizer and its data options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.dataset import PoseDataset, model_input
from ..errors import InputError, StoreError
from ..model.translation import ModelConfig, SignTranslationModel
from ..store import Store, open_store
from ..text.hub import resolve_device
from ..train import checkpoint as checkpoints
from ..train.backbone import rebuild_backbone
from ..train.run_dir import require_run, run_store


@dataclass
class Run:
    run_dir: Path
    checkpoint: str  # "best" or "last"
    step: int  # the optimiser step the checkpoint was saved at
    config: dict  # the training configuration the checkpoint was trained with
    model: SignTranslationModel
    tokenizer: object
    device: torch.device
    store: Store
    mask_source: str  # where the mask placeholder comes from: "model", "store mask_init", or "none"

    def dataset(self, split: str) -> PoseDataset:
        """The ``split`` of the store, read with the run's own data options (deterministic frame selection)."""
        data = PoseDataset(self.store, split=split, **model_input(self.config, self.model.config.text_tokens))
        if len(data.point_names) != self.model.config.n_points:
            raise StoreError(
                f"{self.store.url}: its {self.config['points']!r} point subset has {len(data.point_names)} points; "
                f"the run was trained on {self.model.config.n_points}"
            )
        if data.text_dim != self.model.config.text_dim:
            raise StoreError(
                f"{self.store.url}: text features are {data.text_dim or 'missing'}-wide, the run was trained on "
                f"{self.model.config.text_dim}-wide features; encode the descriptions with the run's text encoder "
                f"(`mmprep encode-text --store {self.store.url} --model ...`)"
            )
        return data


def load_run(
    run_dir: str | Path,
    checkpoint: str = "best",
    store_url: str | None = None,
    storage_options: dict | None = None,
    device: str = "auto",
    need_mask: bool = False,
) -> Run:
    """Load ``run_dir``'s ``checkpoint`` for evaluation on ``store_url`` (default: the store it was trained on).

    ``need_mask`` (the ensemble) gives a model trained without a mask embedding the store's ``mask_init`` (the
    mean train-split text feature, the value a mask embedding starts from) as its mask placeholder, frozen."""
    run_dir = require_run(run_dir)
    state = checkpoints.load(run_dir, checkpoint)  # its configurations read as the run was trained
    config = state["config"]
    backbone, tokenizer = rebuild_backbone(run_dir, state["model"])
    model_config = ModelConfig.from_dict(state["model_config"])
    # The mask parameter needs some initial value to exist; the checkpoint's weights replace it.
    placeholder_mask = torch.zeros(model_config.text_dim) if "mask" in model_config.placeholder_kinds else None
    model = SignTranslationModel(backbone, model_config, placeholder_mask)
    model.load_state_dict(state["model"])
    store_url = store_url or run_store(run_dir, config["store"], storage_options)
    store = open_store(store_url, storage_options=storage_options)
    mask_source = "model" if model.placeholder.mask is not None else "none"
    if need_mask and model.placeholder.mask is None:
        model.placeholder.mask = nn.Parameter(_store_mask_init(store).reshape(1, -1), requires_grad=False)
        mask_source = "store mask_init"
    target = resolve_device(device)
    model.to(target).eval()
    return Run(run_dir, checkpoint, state["progress"]["step"], config, model, tokenizer, target, store, mask_source)


def _store_mask_init(store: Store) -> torch.Tensor:
    info = store.mask_init_info
    if info is None or not info["current"]:
        state = "has no mask_init" if info is None else "has a stale mask_init (the text features changed since)"
        raise InputError(
            f"the run has no mask embedding, so the ensemble's mask member uses the store's mask_init, but "
            f"{store.url} {state}; run `mmprep init-mask --store {store.url}`, or choose another --mode"
        )
    return torch.from_numpy(store.mask_init).float()
