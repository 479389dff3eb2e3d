"""`mmprep train` end to end on a small synth store with the tiny backbone."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import torch
from helpers import REPO, is_stopped, stop_process_group
from train_helpers import config_for, interrupt_at_batch, metrics, step_losses, tiny_backbone

import prep
from prep.data.dataset import PoseDataset
from prep.errors import StoreError
from prep.train import checkpoint
from prep.train.config import resolve
from prep.train.diagnostics import mask_position, typical_distance
from prep.train.loop import NonFiniteError, train
from prep.train.optim import build_optimizer
from prep.train.setup import placeholder_schedule, uses_text_tokens


def test_training_learns_and_writes_its_run_directory(synth_store, tmp_path):
    run = tmp_path / "run"
    summary = train(config_for(synth_store, epochs=5), run, progress=False)
    losses = list(step_losses(run).values())
    assert len(losses) == summary["steps"] and summary["epochs"] == 5
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    config = (run / "config.toml").read_text()
    assert "seed = 0" in config and 'placeholder = "mask+indicator"' in config
    first = json.loads((run / "first_batch.json").read_text())
    assert first["ok"] and first["parts"]["mask_embedding"]["receives_gradient"]
    assert checkpoint.path(run, "last").exists() and checkpoint.path(run, "best").exists()
    record = metrics(run)[0]
    for key in ("step", "epoch", "loss", "lr", "text_dropout_p", "text_norm_share_with_text", "text_norm_share_without_text",
                "mask_cos_init", "mask_cos_text_mean", "mask_moved", "mask_distance_text_mean", "grad_norm",
                "data_wait"):  # fmt: skip
        assert key in record, key
    assert record["mask_moved"] > 0 and summary["mask"]["mask_distance_text_mean"] > 0
    assert record["grad_norm"]["mask_embedding"] > 0
    assert [m["epoch"] for m in metrics(run) if "dev_bleu" in m] == [1, 2, 3, 4, 5]
    state = checkpoint.load(run, "last")  # weights_only=True
    assert state["progress"]["step"] == summary["steps"] and state["config"]["seed"] == 0


def test_the_mask_position_is_measured_in_typical_distances_of_a_description():
    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) + 10.0  # each 1 from the mean
    mean = features.mean(0)
    assert typical_distance(features) == pytest.approx(1.0)
    position = mask_position(mean + torch.tensor([0.0, 3.0]), mean, mean, typical_distance(features))
    assert position["mask_moved"] == pytest.approx(3.0) and position["mask_distance_text_mean"] == pytest.approx(3.0)
    assert position["mask_cos_init"] > 0.9  # three descriptions' distances away, and still a cosine near 1
    assert mask_position(mean, mean, None, None)["mask_moved"] is None  # no descriptions: no unit


def test_resume_after_ctrl_c_continues_exactly(synth_store, tmp_path, monkeypatch):
    config = config_for(synth_store, max_steps=16, text_dropout="adaptive", placeholder="noise")
    train(config, tmp_path / "whole", progress=False)

    interrupt_at_batch(monkeypatch, 7)  # in epoch 1 (10 batches): the resume starts mid-epoch
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "parts", progress=False)
    saved = checkpoint.load(tmp_path / "parts")["progress"]
    assert saved["step"] == 6 and saved["batch_in_epoch"] == 6  # the step under way when Ctrl-C came is finished
    monkeypatch.undo()
    train(config, tmp_path / "parts", resume=True, progress=False)
    assert step_losses(tmp_path / "parts") == step_losses(tmp_path / "whole")


def test_resume_after_a_crash_starts_from_the_last_checkpoint(synth_store, tmp_path, monkeypatch):
    config = config_for(synth_store, max_steps=14, checkpoint_every=4)
    train(config, tmp_path / "whole", progress=False)
    interrupt_at_batch(monkeypatch, 7, error=RuntimeError)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, tmp_path / "crashed", progress=False)
    assert checkpoint.load(tmp_path / "crashed")["progress"]["step"] == 4
    monkeypatch.undo()
    train(config, tmp_path / "crashed", resume=True, progress=False)
    whole, resumed = step_losses(tmp_path / "whole"), step_losses(tmp_path / "crashed")
    assert {s: resumed[s] for s in range(5, 15)} == {s: whole[s] for s in range(5, 15)}


def test_mask_has_its_own_learning_rate_and_weight_decay(synth_store, tmp_path):
    config = config_for(synth_store, max_steps=1, lr=1e-3, weight_decay=0.05)
    run = tmp_path / "run"
    train(config, run, progress=False)
    groups = {g["name"]: g for g in checkpoint.load(run)["optimizer"]["param_groups"]}
    assert groups["mask"]["lr"] == pytest.approx(groups["weights"]["lr"] * 0.1)
    assert groups["mask"]["weight_decay"] == 1e-5 and groups["weights"]["weight_decay"] == 0.05
    assert groups["biases_and_norms"]["weight_decay"] == 0.0
    assert len(groups["mask"]["params"]) == 1
    from prep.model.translation import ModelConfig, SignTranslationModel

    model = SignTranslationModel(tiny_backbone(), ModelConfig(5, 12, placeholder="zero"), None)
    groups = {g["name"] for g in build_optimizer(model, resolve({}, {})).param_groups}
    assert groups == {"weights", "biases_and_norms"}  # no mask embedding with the zero placeholder


def test_the_mask_pull_holds_the_mask_near_its_initial_value(synth_store, tmp_path):
    """The same run with and without --mask-pull (the mask's learning rate raised, so that it moves): pulled
    back towards mask_init, it ends nearer to it."""
    moved = {}
    for pull in (0.0, 100.0):
        config = config_for(synth_store, max_steps=3, mask_lr_scale=10.0, mask_pull=pull)
        moved[pull] = train(config, tmp_path / str(pull), progress=False)["mask"]["mask_moved"]
    assert 0 < moved[100.0] < 0.5 * moved[0.0], moved


def test_training_takes_each_steps_placeholder_from_the_schedule(synth_store, tmp_path):
    """The schedule's rule is tested in tests/model/test_model.py; here, that every step trains with its kind."""
    run = tmp_path / "run"
    config = config_for(synth_store, epochs=2, placeholder_schedule="1:zero,2:alternate")
    train(config, run, progress=False)
    schedule = placeholder_schedule(config)
    steps = [m for m in metrics(run) if "loss" in m]  # one record per step (log_every 1)
    assert [m["placeholder"] for m in steps] == [schedule.kind(m["epoch"], m["step"] - 1) for m in steps]
    assert {m["epoch"] for m in steps} == {1, 2} and {m["placeholder"] for m in steps} == {"zero", "mask"}


def test_refuses_a_missing_or_stale_mask_init(synth_store, tmp_path, tiny_mt5, other_mt5):
    store = str(tmp_path / "copy.zarr")
    shutil.copytree(synth_store, store)
    with prep.open_store(store, mode="a") as s:
        s.write_text(s.has_text, s.descriptions, s.text_features, s.text_provenance)  # features changed since
    with pytest.raises(StoreError, match=r"stale.*mmprep init-mask"):
        train(config_for(store), tmp_path / "a", progress=False)
    shutil.rmtree(Path(store) / "mask_init")
    with pytest.raises(StoreError, match=r"no mask_init.*mmprep init-mask"):
        train(config_for(store), tmp_path / "a", progress=False)
    summary = train(config_for(store, mask_init="random", max_steps=1), tmp_path / "b", progress=False)
    assert summary["steps"] == 1 and abs(summary["mask"]["mask_cos_text_mean"]) < 0.5  # not the mean description
    for placeholder in ("zero+indicator", "raw-zero+indicator"):  # no mask, no mask_init needed
        summary = train(config_for(store, placeholder=placeholder, max_steps=1), tmp_path / placeholder,
                        progress=False)  # fmt: skip
        assert summary["steps"] == 1 and "mask" not in summary
        assert not [k for k in checkpoint.load(tmp_path / placeholder)["model"] if "mask" in k]


@pytest.mark.parametrize("policy", ["skip", "stop"])
def test_non_finite_loss_is_reported_and_never_applied(synth_store, tmp_path, monkeypatch, policy):
    from prep.model.translation import SignTranslationModel

    original = SignTranslationModel.forward
    calls = {"n": 0}

    def forward(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 4:  # the first batch check is call 1; training step 3 is call 4
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(SignTranslationModel, "forward", forward)
    run = tmp_path / "run"
    config = config_for(synth_store, max_steps=5, on_nan=policy)
    if policy == "stop":
        with pytest.raises(NonFiniteError, match=r"non-finite loss at step 3 \(epoch 1\); batch ids: "):
            train(config, run, progress=False)
        return
    train(config, run, progress=False)
    events = [m for m in metrics(run) if m.get("event") == "non_finite"]
    assert len(events) == 1 and events[0]["what"] == "loss" and len(events[0]["ids"]) == 8
    assert sorted(step_losses(run)) == [1, 2, 3, 4, 5]  # the skipped batch did not count as a step
    assert all(torch.isfinite(p).all() for p in checkpoint.load(run)["model"].values())


def test_config_file_flags_and_resume_rules(synth_store, tmp_path, cli):
    config_file = tmp_path / "stage.toml"
    config_file.write_text('backbone = "tiny"\ntiny_d_model = 32\ntiny_layers = 1\ntiny_heads = 2\n'
                           'batch_size = 4\nlr = 0.01\nmax_steps = 2\nmax_target_length = 16\neval_max_videos = 2\n')  # fmt: skip
    run = tmp_path / "run"
    cli("train", "--store", synth_store, "--out", run, "--config", config_file, "--lr", "0.002", "--seed", "3", "-q")
    saved = (run / "config.toml").read_text()
    assert "batch_size = 4" in saved and "lr = 0.002" in saved and "seed = 3" in saved
    assert "already holds a run" in cli("train", "--out", run, expect=1).output
    assert "cannot change: lr" in cli("train", "--resume", run, "--lr", "0.1", expect=1).output
    bad = tmp_path / "bad.toml"
    bad.write_text("batch_size = 0\nplaceholdr = 'mask'\n")
    output = cli("train", "--out", tmp_path / "x", "--config", bad, expect=1).output
    assert "batch_size: 0 is less than the minimum of 1" in output and "'placeholdr' was unexpected" in output
    assert not (tmp_path / "x").exists()
    # A batch of one video cannot hold the split's share of videos with text and of those without: said, and how.
    output = cli("train", "--store", synth_store, "--out", tmp_path / "one", "--config", config_file, "--batch-size",
                 "1", expect=1).output  # fmt: skip
    assert "cannot make the training batches: batch_size 1" in output and "--grad-accum" in output


# `mmprep ARGS...` as torchrun starts it with `--no-python python -c STOPPING_TRAIN N ARGS...`: each rank stops
# itself (SIGSTOP) while it reads batch N (interrupt_at_batch), so a test that sees both ranks stopped knows where
# the run is and interrupts it there.
STOPPING_TRAIN = f"""
import signal, sys
import pytest
sys.path.insert(0, {str(REPO / "tests")!r})
from train_helpers import interrupt_at_batch
from prep.cli import main
interrupt_at_batch(pytest.MonkeyPatch(), int(sys.argv.pop(1)), signum=signal.SIGSTOP)
main(sys.argv[1:], prog_name="mmprep")
"""


def stopped_ranks(torchrun: subprocess.Popen, log: Path, ranks: int = 2, timeout: float = 240) -> list[psutil.Process]:
    """Wait until ``ranks`` processes under torchrun have stopped themselves; returns them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert torchrun.poll() is None, log.read_text()[-3000:]
        stopped = [p for p in psutil.Process(torchrun.pid).children(recursive=True) if is_stopped(p)]
        if len(stopped) == ranks:
            return stopped
        time.sleep(0.1)
    raise AssertionError(f"the ranks did not stop in time: {log.read_text()[-3000:]}")


def signal_pending(process: psutil.Process, signum: int) -> bool:
    """Whether ``signum`` waits to be delivered to ``process`` (stopped): Linux lists it in /proc/PID/status."""
    status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
    masks = [int(line.split()[1], 16) for line in status if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(mask >> (signum - 1) & 1 for mask in masks)


def test_torchrun_two_processes_share_each_epoch_stop_on_ctrl_c_and_resume(
    synth_store, tmp_path, ctrl_c_reaches_commands
):
    run, log = tmp_path / "ddp", tmp_path / "torchrun.log"
    options = ["--store", synth_store, "--backbone", "tiny", "--tiny-d-model", "32", "--tiny-layers", "1",
               "--tiny-heads", "2", "--batch-size", "4", "--max-target-length", "16", "--eval-max-videos", "2",
               "--log-every", "1", "-q"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--no-python"]
    with open(log, "w") as stderr:
        first = subprocess.Popen([*torchrun, sys.executable, "-c", STOPPING_TRAIN, "3", "train", "--out", str(run),
                                  "--epochs", "2", *options], env=env, stderr=stderr, start_new_session=True)  # fmt: skip
    ranks: list[psutil.Process] = []
    try:
        ranks = stopped_ranks(first, log)  # each reading the batch of step 2 of epoch 1 (of 10)
        os.killpg(first.pid, signal.SIGINT)  # Ctrl-C in a terminal; torchrun passes it on to the ranks
        deadline = time.monotonic() + 60
        while not all(signal_pending(rank, signal.SIGINT) for rank in ranks):
            assert time.monotonic() < deadline, "torchrun did not pass Ctrl-C on"
            time.sleep(0.05)
        for rank in ranks:
            rank.resume()  # SIGCONT: each finishes step 2, they agree to stop, and rank 0 saves
        assert first.wait(timeout=240) != 0
    finally:
        for rank in ranks:
            with contextlib.suppress(psutil.NoSuchProcess):
                rank.kill()
        stop_process_group(first)
    assert checkpoint.load(run)["progress"]["step"] == 2, log.read_text()[-3000:]

    # Resumed by the console script, as `torchrun --no-python mmprep train` starts it.
    mmprep = Path(sys.executable).with_name("mmprep")
    resumed = subprocess.run([*torchrun, mmprep, "train", "--resume", str(run), "-q"], env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = checkpoint.load(run)
    assert len(state["rng"]) == 2 and state["progress"]["epoch"] == 3  # two epochs done
    steps = [m["step"] for m in metrics(run) if "loss" in m]
    assert steps == list(range(1, state["progress"]["step"] + 1))  # only rank 0 writes; nothing lost or repeated
    # epoch 2, whole after the resume (a resumed process counts the videos it trained on since)
    (shards,) = [m for m in metrics(run) if m.get("event") == "epoch_end" and m["epoch"] == 2]
    a, b = shards["videos_per_process"]  # (distinct videos; a recycled with-text video counts once)
    assert a + b >= len(PoseDataset(synth_store)) and abs(a - b) <= 2 and shards["videos_shared_between_processes"] == 0


def test_the_train_page_lists_every_train_option_as_the_schema_defines_it():
    from prep.train.options_table import END, START, markdown

    readme = (REPO / "docs" / "train.md").read_text(encoding="utf-8")
    assert readme[readme.index(START) : readme.index(END) + len(END)] == markdown()


def test_the_ctc_loss_on_glosses_is_trained_logged_and_reloaded(synth_store, tmp_path):
    run = tmp_path / "ctc"
    train(config_for(synth_store, max_steps=6, ctc_weight=1.0), run, progress=False)
    first = json.loads((run / "first_batch.json").read_text())
    assert first["parts"]["gloss_head"]["receives_gradient"]
    logged = [m["ctc_loss"] for m in metrics(run) if "loss" in m]
    assert len(logged) == 6 and all(value > 0 for value in logged)
    state = checkpoint.load(run)
    vocabulary = state["model_config"]["glosses"]
    train_glosses = {g for text in PoseDataset(synth_store).glosses for g in text.split()}
    assert set(vocabulary) <= train_glosses and len(vocabulary) > 2, (vocabulary, train_glosses)
    from prep.evaluate.loading import load_run

    assert load_run(run, "last").model.gloss_head.out_features == len(vocabulary) + 1


def test_per_token_text_is_on_by_default_where_the_store_has_it(synth_store, tmp_path):
    store = prep.open_store(synth_store)
    assert store.text_provenance["keep_tokens"] is True  # encode-text keeps them unless --no-keep-tokens
    assert uses_text_tokens(config_for(synth_store), store) is True
    assert uses_text_tokens(config_for(synth_store, fusion="gate"), store) is False  # the gate has no steps
    assert uses_text_tokens(config_for(synth_store, text_tokens=False), store) is False
    without = SimpleNamespace(text_provenance={"keep_tokens": False})
    assert uses_text_tokens(config_for(synth_store), without) is False
    assert (
        uses_text_tokens(config_for(synth_store, text_tokens=True), without) is True
    )  # asked: the dataset says what is missing
    train(config_for(synth_store, max_steps=2), tmp_path / "run", progress=False)
    saved = checkpoint.load(tmp_path / "run", "last")
    assert saved["model_config"]["text_tokens"] is True and saved["config"].get("text_tokens") is None


def test_the_prior_and_its_coverage_are_on_by_default_and_both_go_with_no_text_prior(synth_store, tmp_path):
    train(config_for(synth_store, max_steps=2), tmp_path / "default", progress=False)
    saved = checkpoint.load(tmp_path / "default", "last")["model_config"]
    assert saved["text_prior"] and saved["prior_coverage"] and not saved["prior_tokens"]
    first = json.loads((tmp_path / "default" / "first_batch.json").read_text())
    assert first["parts"]["prior_coverage"]["receives_gradient"]
    train(config_for(synth_store, max_steps=2, text_prior=False), tmp_path / "plain", progress=False)
    saved = checkpoint.load(tmp_path / "plain", "last")["model_config"]
    assert not saved["text_prior"] and not saved["prior_coverage"]  # coverage refines the prior: nothing to refine
