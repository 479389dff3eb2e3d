"""`mmprep train --log-to tensorboard`: the scalars of metrics.jsonl, read back with TensorBoard's own reader."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from train_helpers import FAST, config_for, interrupt_at_batch, metrics

from prep.train.curves import scalars
from prep.train.loop import train
from prep.train.run_dir import resumed_config


def test_event_files_hold_the_scalars_of_metrics_jsonl(cli, synth_store, tmp_path):
    run = tmp_path / "tb"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**FAST, "max_steps": 4, "epochs": 1}.items()]
    cli("train", "--store", synth_store, "--out", run, "--log-to", "tensorboard", "-q", *flags)
    records = metrics(run)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})  # 0: keep every event
    events.Reload()
    tags = set(events.Tags()["scalars"])
    # The curves a run is watched by: loss, lr, the effective text-dropout rate, the fusion's text statistic,
    # mask cosines, dev BLEU.
    for tag in ("train/loss", "train/lr", "train/text_dropout_p", "train/text_norm_share_with_text",
                "train/text_norm_share_without_text",
                "train/mask_cos_init", "train/mask_cos_text_mean", "dev/dev_bleu", "train/grad_norm/total"):  # fmt: skip
        assert tag in tags, sorted(tags)
    expected: dict[str, dict[int, float]] = {}
    for record in records:
        for tag, value in scalars(record).items():
            expected.setdefault(tag, {})[record["step"]] = value
    assert set(expected) == tags
    for tag, by_step in expected.items():
        logged = {e.step: e.value for e in events.Scalars(tag)}
        assert logged.keys() == by_step.keys(), tag
        for step, value in by_step.items():
            assert logged[step] == pytest.approx(value, rel=1e-6, abs=1e-12), (tag, step)  # stored as float32
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    assert 'log_to = "tensorboard"' in (run / "config.toml").read_text()


def test_jsonl_is_the_default_and_writes_no_event_files(cli, synth_store, tmp_path):
    run = tmp_path / "plain"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**FAST, "max_steps": 1, "epochs": 1}.items()]
    cli("train", "--store", synth_store, "--out", run, "-q", *flags)
    assert not (run / "tensorboard").exists()
    assert any("loss" in json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines())
    # Where a run logs is not what it computes: a resumed run may start logging to TensorBoard.
    assert resumed_config(run, {"log_to": "tensorboard"})["log_to"] == "tensorboard"


def test_events_and_unset_values_are_not_scalars():
    assert scalars({"step": 3, "epoch": 1, "event": "epoch_end", "videos_per_process": [4]}) == {}
    got = scalars({"step": 2, "epoch": 1, "loss": 1.5, "gate_opening_without_text": None, "placeholder": "mask",
                   "grad_norm": {"gate": 0.5}})  # fmt: skip
    assert got == {"train/loss": 1.5, "train/grad_norm/gate": 0.5}


def test_a_resumed_run_shows_each_step_once(synth_store, tmp_path, monkeypatch):
    run = tmp_path / "tb"
    config = config_for(synth_store, max_steps=8, checkpoint_every=4, log_to="tensorboard")
    interrupt_at_batch(monkeypatch, 7, error=RuntimeError)  # steps 5 and 6 are logged after the checkpoint
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, run, progress=False)
    monkeypatch.undo()
    train(config, run, resume=True, progress=False)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, 9))
    assert [m["step"] for m in metrics(run) if "loss" in m] == list(range(1, 9))
