"""`mmprep train`: the training loop with the missing-text strategies of docs/missing-modality.md.

One process, or one per device under ``torchrun`` (DDP; the sampler gives each rank its own share of every
epoch and rank 0 writes). What the run directory holds is in ``prep/train/run_dir.py``; how the data, model
and loaders are built from the configuration, in ``prep/train/setup.py``.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .._version import __version__
from ..bleu import choose as choose_tokenizer
from ..bleu import corpus_bleu
from ..data.dataset import collate
from ..errors import MmprepError, is_disk_full
from ..model.decoding import hide_words, target_ids, to_device, translate
from ..store.location import absolute, default_url
from . import checkpoint
from .curves import MetricsLog
from .diagnostics import (
    COSINE_WARNING,
    first_batch_check,
    grad_norms,
    mask_position,
    render_first_batch,
    text_weight_keys,
    typical_distance,
)
from .distributed import Dist, init_distributed, shutdown
from .migrations import CONFIG_VERSION, VERSION_KEY
from .objective import batch_loss
from .optim import build_optimizer, clip_gradients, warmup_cosine
from .run_dir import FIRST_BATCH, metrics_size, run_store, write_config
from .setup import build_loaders, build_model, load_data, placeholder_schedule, text_dropout_from


class NonFiniteError(MmprepError):
    """A non-finite loss or gradient with --on-nan stop."""


def train(config: dict, run_dir: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train (or, with ``resume``, continue) the run in ``run_dir``. Returns a summary dict."""
    # Recorded where it is, so that the run finds its store from any folder (eval, translate, --resume).
    store = (
        run_store(run_dir, config["store"], config["storage_options"])
        if resume
        else absolute(config["store"] or default_url())
    )
    dist_state, device = init_distributed(config["device"])
    try:
        return Trainer({**config, "store": store}, Path(run_dir), dist_state, device, resume, progress).run()
    except MmprepError:  # said already (a checkpoint's full disk among them)
        raise
    except Exception as e:  # an OSError, torch's RuntimeError over one, safetensors' own error (the backbone)
        if not is_disk_full(e):
            raise
        raise checkpoint.disk_full(Path(run_dir), Path(run_dir), "the run's files") from e
    finally:
        shutdown(dist_state)


class Trainer:
    def __init__(self, config: dict, run_dir: Path, dist: Dist, device: torch.device, resume: bool, progress: bool):
        self.config, self.run_dir, self.dist, self.device = config, run_dir, dist, device
        self.progress = progress and dist.is_main
        seed = config["seed"]
        torch.manual_seed(seed + dist.rank)
        self.dropout_generator = torch.Generator().manual_seed(seed * 1000 + dist.rank)
        self.text_dropout = text_dropout_from(config)
        self.schedule = placeholder_schedule(config)
        self.autocast = uses_autocast(config["precision"], device)

        data = load_data(config, self.schedule)
        self.train_set, self.dev_set = data.train_set, data.dev_set
        self.mean_text, self.mask_init = data.mean_text, data.mask_init
        self.text_spread = typical_distance(data.train_text)  # the unit of the mask's distances
        state = checkpoint.load(run_dir, "last") if resume else None
        resumed = state["model"] if state is not None else None
        self.module, self.tokenizer = build_model(config, data, self.schedule, run_dir, dist, resumed)
        if state is not None:
            self.module.load_state_dict(state["model"])
        self.module.to(device)
        self.model = DistributedDataParallel(self.module) if dist.enabled else self.module
        self.sampler, self.loader, self.dev_loader = build_loaders(config, data, dist)

        self.steps_per_epoch = math.ceil(len(self.sampler) / config["grad_accum"])
        self.total_steps = config["epochs"] * self.steps_per_epoch
        if config["max_steps"]:
            self.total_steps = min(self.total_steps, config["max_steps"])
        self.optimizer = build_optimizer(self.module, config)
        self.scheduler = warmup_cosine(self.optimizer, self.total_steps, config["warmup_ratio"])

        self.step, self.epoch, self.batch_in_epoch = 0, 1, 0
        self.best_bleu, self.best_step = -1.0, None
        self.resumed: tuple[int, int | None] | None = None  # (step, size of metrics.jsonl) of the checkpoint
        if state is not None:
            self._restore(state)
        self.stop_requested = False
        self.seen_ids: set[str] = set()  # videos this process trained on in the current epoch (since a resume)

    # ------------------------------------------------------------------ state
    def _rng_state(self) -> dict:
        state = {"torch": torch.get_rng_state(), "dropout": self.dropout_generator.get_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _save(self, which: str, rng_states: list[dict]) -> None:
        """``last``: everything a resume needs. ``best``: what evaluation and export need, without the optimiser's
        state and the random states (an mT5-base run's best.pt: 2.3 GB instead of 7)."""
        if not self.dist.is_main:
            return
        state = {
            "model": self.module.state_dict(),
            "progress": {
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "best_bleu": self.best_bleu,
                "best_step": self.best_step,
                "metrics_bytes": metrics_size(self.run_dir),
            },
            "model_config": self.module.config.to_dict(),
            "config": {k: v for k, v in self.config.items() if v is not None},
            "toolkit_version": __version__,
            VERSION_KEY: CONFIG_VERSION,  # of config and model_config: how later mmprep versions read them
        }
        if which == "last":
            state |= {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                      "rng": rng_states}  # fmt: skip
        checkpoint.save(self.run_dir, which, state)

    def _restore(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        progress = state["progress"]
        self.step, self.epoch, self.batch_in_epoch = progress["step"], progress["epoch"], progress["batch_in_epoch"]
        self.best_bleu, self.best_step = progress["best_bleu"], progress["best_step"]
        self.resumed = self.step, progress.get("metrics_bytes")
        if len(state["rng"]) != self.dist.world_size:
            raise MmprepError(
                f"{self.run_dir} was trained with {len(state['rng'])} processes; resume it with the same number"
            )
        rng = state["rng"][self.dist.rank]
        torch.set_rng_state(rng["torch"])
        self.dropout_generator.set_state(rng["dropout"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    # ------------------------------------------------------------------ logging
    def _log(self, record: dict) -> None:
        if self.metrics is not None:
            self.metrics.write(record)

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            tqdm.write(message, file=sys.stderr)

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict:
        if self.dist.is_main:
            write_config(self.run_dir, self.config)
        self.metrics = MetricsLog(self.run_dir, self.config["log_to"], self.resumed) if self.dist.is_main else None
        try:
            return self._run()
        finally:
            if self.metrics is not None:
                self.metrics.close()

    def _run(self) -> dict:
        if self.step == 0:
            self._first_batch()
        # Signal handlers can only be set from the main thread (a dask worker runs tasks in other threads).
        in_main_thread = threading.current_thread() is threading.main_thread()
        signals = (signal.SIGINT, signal.SIGTERM) if in_main_thread else ()
        previous = {sig: signal.signal(sig, self._request_stop) for sig in signals}
        bar = tqdm(
            total=self.total_steps, initial=self.step, disable=not self.progress, unit="step", dynamic_ncols=True
        )
        try:
            while self.step < self.total_steps and self.epoch <= self.config["epochs"]:
                completed = self._epoch(bar)
                if self.stop_requested:  # _epoch saved the last checkpoint
                    break
                self._log_shards()
                self._evaluate()  # at each epoch's end, and when the step budget ends the run mid-epoch
                if completed:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                self._save("last", self.dist.gather(self._rng_state()))
        finally:
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.stop_requested:
            raise KeyboardInterrupt
        mask = self._mask_position()
        return {
            "steps": self.step,
            "epochs": self.epoch - 1,
            "best_dev_bleu": self.best_bleu,
            "best_step": self.best_step,
            **({"mask": mask} if mask is not None else {}),
        }

    def _request_stop(self, signum, frame) -> None:
        """Ctrl-C or SIGTERM (a scheduler's preemption): stop at the next step boundary, after saving.

        A second Ctrl-C aborts at once, unless it follows the first within a second: under torchrun a Ctrl-C
        reaches each worker twice (from the terminal, and forwarded by torchrun), and that is one request."""
        now = time.monotonic()
        if self.stop_requested:
            if signum == signal.SIGINT and now - self.stop_requested_at > 1.0:
                raise KeyboardInterrupt
            return
        self.stop_requested, self.stop_requested_at = True, now
        self._say("\nstopping: finishing this step and saving the last checkpoint (Ctrl-C again to abort)")

    def _first_batch(self) -> None:
        self.sampler.set_epoch(self.epoch)
        batch = to_device(collate(self.train_set.__getitems__(next(iter(self.sampler)))), self.device)
        labels = target_ids(self.tokenizer, batch["translations"], self.config["max_target_length"]).to(self.device)
        report = first_batch_check(self.module, batch, labels, self.config["ctc_weight"], self._autocast)
        if self.dist.is_main:
            (self.run_dir / FIRST_BATCH).write_text(json.dumps(report, indent=2), encoding="utf-8")
            self._say(render_first_batch(report))
        if not report["finite"]:
            raise NonFiniteError(f"the first batch gives a non-finite loss or gradient (ids: {batch['ids']})")

    def _epoch(self, bar: tqdm) -> bool:
        """Train to the epoch's end (True), or until the step budget is spent or a stop is asked for (False)."""
        config = self.config
        self.sampler.set_epoch(self.epoch)
        self.sampler.load_state_dict(
            {**self.sampler.state_dict(), "epoch": self.epoch, "position": self.batch_in_epoch}
        )
        batches = iter(self.loader)
        interval: list[dict] = []
        while self.batch_in_epoch < len(self.sampler):
            if self.step >= self.total_steps:
                return False
            if self._stop_agreed():
                self._save("last", self.dist.gather(self._rng_state()))
                return False
            stats = self._optimizer_step(batches)
            if stats.get("skipped"):
                self._log({"step": self.step, "epoch": self.epoch, "event": "non_finite", **stats})
                continue
            self.step += 1
            bar.update(1)
            interval.append(stats)
            bar.set_postfix(loss=f"{stats['loss']:.3f}", lr=f"{stats['lr']:.1e}")
            if self.step % config["log_every"] == 0:
                self._log(self._summarize(interval))
                interval = []
            if self.step % config["checkpoint_every"] == 0:
                self._save("last", self.dist.gather(self._rng_state()))
        return True

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast)

    def _stop_agreed(self) -> bool:
        return self.dist.mean(float(self.stop_requested)) > 0

    def _optimizer_step(self, batches) -> dict:
        """Accumulate up to ``grad_accum`` batches (fewer at the epoch's end) and step, unless a loss or gradient
        is not finite on any rank (then every rank skips or stops, ``--on-nan``). Returns the step's record."""
        config = self.config
        self.model.train()
        step_started = time.perf_counter()
        kind = self.schedule.kind(self.epoch, self.step) if self.schedule else None
        parts: list[dict] = []
        ids: list[str] = []
        data_wait = 0.0
        while len(parts) < config["grad_accum"] and self.batch_in_epoch < len(self.sampler):
            start = time.perf_counter()
            batch = next(batches)
            data_wait += time.perf_counter() - start
            self.batch_in_epoch += 1
            ids += list(batch["ids"])
            self.seen_ids.update(batch["ids"])
            loss, part = self._batch_loss(batch, kind)
            loss = loss / config["grad_accum"]  # the pull too: its strength per step does not depend on grad_accum
            if self.dist.mean(float(not torch.isfinite(loss))) > 0:  # every rank skips together
                return self._non_finite("loss", ids)
            loss.backward()
            parts.append({**part, "loss": loss.item()})
        norms_before = grad_norms(self.module)
        if not all(math.isfinite(v) for v in norms_before.values()):
            return self._non_finite("gradient", ids)
        clipped = clip_gradients(self.module, config)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        n = len(parts)
        return {
            "loss": self.dist.mean(sum(p["loss"] for p in parts) * config["grad_accum"] / n),
            "lr": self.optimizer.param_groups[0]["lr"],
            "text_dropout_p": sum(p["p"] for p in parts) / n,
            "ctc_loss": self.dist.mean(sum(p["ctc_loss"] for p in parts) / n)
            if self.module.gloss_head is not None
            else None,
            "data_wait": data_wait,
            "seconds": time.perf_counter() - step_started,
            "placeholder": kind or self.module.placeholder.kind,
            "grad_norm": {**norms_before, "total": clipped["total"]},  # before clipping
            **_mean_of([p["text_weight"] for p in parts], keys=text_weight_keys(config["fusion"])),
        }

    def _batch_loss(self, batch: dict, kind: str | None) -> tuple[torch.Tensor, dict]:
        """One batch on the device with both dropouts applied (text dropout: whose description the model does
        not see; word dropout: target words hidden from the decoder's input), and its loss and parts
        (prep/train/objective.py), with the text dropout rate ``p``."""
        config = self.config
        batch = to_device(batch, self.device)
        labels = target_ids(self.tokenizer, batch["translations"], config["max_target_length"]).to(self.device)
        keep, p = self.text_dropout(batch["has_text"], self.dropout_generator)
        present = keep
        if config["dropout_to"] == "zeros":  # dropped text becomes zeros, the indicator still says "text"
            batch["text"] = batch["text"] * keep[:, None].to(batch["text"].dtype)
            present = batch["has_text"]
        inputs = hide_words(self.module.backbone, labels, config["word_dropout"], self.tokenizer.unk_token_id)
        loss, parts = batch_loss(self.model, batch, labels, present=present, decoder_inputs=inputs, kind=kind,
                                 config=config, mask_init=self.mask_init, autocast=self._autocast())  # fmt: skip
        return loss, {**parts, "p": p}

    def _non_finite(self, what: str, ids: list[str]) -> dict:
        self.optimizer.zero_grad(set_to_none=True)
        message = f"non-finite {what} at step {self.step + 1} (epoch {self.epoch}); batch ids: {', '.join(ids)}"
        if self.config["on_nan"] == "stop":
            self._log({"step": self.step, "epoch": self.epoch, "event": "non_finite", "what": what, "ids": ids})
            raise NonFiniteError(message + ". Stopped (--on-nan stop); the last checkpoint is intact.")
        self._say(message + "; step skipped (--on-nan skip)")
        return {"skipped": True, "what": what, "ids": ids}

    def _summarize(self, interval: list[dict]) -> dict:
        record = {
            "step": self.step,
            "epoch": self.epoch,
            "loss": sum(s["loss"] for s in interval) / len(interval),
            "lr": interval[-1]["lr"],
            "text_dropout_p": sum(s["text_dropout_p"] for s in interval) / len(interval),
            **_mean_of(interval, keys=("ctc_loss",)),
            "placeholder": interval[-1]["placeholder"],
            "data_wait": sum(s["data_wait"] for s in interval),  # seconds waiting for batches in the interval
            "seconds": sum(s["seconds"] for s in interval),  # seconds of the interval's steps
            "grad_norm": interval[-1]["grad_norm"],
            **_mean_of(interval, keys=text_weight_keys(self.config["fusion"])),
        }
        position = self._mask_position()
        if position is not None:
            record.update(position)
            if record["mask_cos_text_mean"] is not None and record["mask_cos_text_mean"] < COSINE_WARNING:
                self._say(
                    f"warning: step {self.step}: the mask embedding's cosine to the mean text feature is "
                    f"{record['mask_cos_text_mean']:.2f} (< {COSINE_WARNING}; docs/missing-modality.md#6-diagnostics)"
                )
        return record

    def _mask_position(self) -> dict | None:
        """The mask embedding's cosines and distances of ``mask_position``, or None without a mask."""
        mask = self.module.placeholder.mask
        if mask is None:
            return None
        return mask_position(mask.detach().cpu(), self.mask_init, self.mean_text, self.text_spread)

    def _log_shards(self) -> None:
        """How many videos each process trained on this epoch, and how many two processes shared (0 under DDP)."""
        seen = self.dist.gather(sorted(self.seen_ids))
        shared = sum(map(len, seen)) - len(set().union(*seen))
        self._log({"step": self.step, "epoch": self.epoch, "event": "epoch_end",
                   "videos_per_process": [len(s) for s in seen], "videos_shared_between_processes": shared})  # fmt: skip
        self.seen_ids = set()

    def _evaluate(self) -> None:
        """Greedy decoding of the dev split; the best checkpoint is kept by its BLEU, tokenised as `mmprep eval`
        tokenises it for the store's language."""
        bleu = None
        if self.dist.is_main:
            # A run that drops every description (a pose-only model) is judged as it is used: without text. Given
            # the descriptions it never saw, its best checkpoint would be chosen on noise.
            def without_text(batch: dict) -> list[dict]:
                return [{"present": torch.zeros_like(batch["has_text"])}]

            _, hypotheses, references = translate(
                self.module, self.dev_loader, self.tokenizer, self.device, self.config["max_target_length"],
                members=without_text if self.text_dropout.drops_all else None,
            )  # fmt: skip
            tokenize, _ = choose_tokenizer(self.dev_set.store.language, references)
            bleu = corpus_bleu(hypotheses, references, tokenize=tokenize)
            self._log({"step": self.step, "epoch": self.epoch, "dev_bleu": bleu, "dev_videos": len(references)})
            self._say(f"epoch {self.epoch}: dev BLEU {bleu:.2f} on {len(references)} videos")
        bleu = self.dist.broadcast(bleu)
        if bleu > self.best_bleu:
            self.best_bleu, self.best_step = bleu, self.step
            self._save("best", self.dist.gather(self._rng_state()))


def uses_autocast(precision: str, device: torch.device) -> bool:
    """``--precision``: bfloat16 autocast where asked for (on a CPU too: fast with AVX-512 BF16 or AMX), and by
    default (auto) on a GPU that supports it; float32 otherwise."""
    if precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return precision == "bfloat16"


def _mean_of(records: list[dict], keys: tuple[str, ...]) -> dict:
    out = {}
    for key in keys:
        values = [r[key] for r in records if r.get(key) is not None]
        out[key] = sum(values) / len(values) if values else None
    return out
