"""A run whose files were damaged, whose disk filled up, or that is used from another folder: every command that
reads it says which file, what is wrong and what to do, in one line, and nothing that was there is lost."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES
from train_helpers import config_for, metrics, step_losses

from prep.train import checkpoint, run_dir
from prep.train.config import to_toml
from prep.train.loop import train

READERS = {  # command -> (its arguments after the run directory, the checkpoint it reads)
    "eval": ((), "best"),
    "translate": ((FIXTURES / "pose" / "example.pose",), "best"),
    "export-model": (("--out", "{tmp}/export"), "best"),
    "train": ((), "last"),
}


def damage(path: Path, how: str) -> bytes:
    """Cut ``path`` to half its size (a failed copy) or replace it with random bytes of its size. Returns the bytes."""
    data = path.read_bytes()
    data = data[: len(data) // 2] if how == "truncated" else np.random.default_rng(0).bytes(len(data))
    path.write_bytes(data)
    return data


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    return run


@pytest.mark.parametrize("how", ["truncated", "random"])
@pytest.mark.parametrize("command", list(READERS))
def test_a_damaged_checkpoint_is_named_for_every_reader_and_kept(run_copy, tmp_path, cli, command, how):
    args, which = READERS[command]
    damaged = checkpoint.path(run_copy, which)
    data = damage(damaged, how)
    args = [a.format(tmp=tmp_path) if isinstance(a, str) else a for a in args]
    line = ["train", "--resume", run_copy, "-q"] if command == "train" else [command, run_copy, *args]
    output = cli(*line, expect=1).output
    assert f"{damaged} is damaged" in output, output
    other = "last" if which == "best" else "best"
    assert f"{other}.pt" in output and "train the run again" in output
    assert "weights_only" not in output and "Traceback" not in output
    assert damaged.read_bytes() == data  # left as it was: the user may still recover it
    assert not (tmp_path / "export").exists()


def test_a_file_that_is_no_checkpoint_of_a_run_is_refused(run_copy, cli):
    import torch

    torch.save({"weights": torch.zeros(2)}, checkpoint.path(run_copy, "best"))
    output = cli("eval", run_copy, expect=1).output
    assert f"{checkpoint.path(run_copy, 'best')} is not a checkpoint of `mmprep train`" in output


def fill_disk(monkeypatch, module, from_open: int, room: int) -> None:
    """From the ``from_open``-th file that ``module`` opens for writing on, the disk has ``room`` bytes left: a
    write past them writes what fits and raises ENOSPC, as a write to a full disk does."""
    real_open, opened = open, [0]

    class OnFullDisk:
        def __init__(self, file):
            self.file = file

        def write(self, data) -> int:
            nonlocal room
            data = bytes(data) if isinstance(data, memoryview) else data  # torch's buffers; text for metrics
            self.file.write(data[:room])
            if len(data) > room:
                room = 0
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            room -= len(data)
            return len(data)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    def fake_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "r" in mode:
            return handle
        opened[0] += 1
        return OnFullDisk(handle) if opened[0] >= from_open else handle

    monkeypatch.setattr(module, "open", fake_open, raising=False)


@pytest.fixture(scope="module")
def whole_run(synth_store, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("whole") / "run"
    train(config_for(synth_store, max_steps=8, checkpoint_every=4), run, progress=False)
    return run


# The second checkpoint (last.pt at step 8), as the first write of torch.save fails (torch raises the OSError) or
# a later one (torch raises "unexpected pos"); or metrics.jsonl, mid-record, at step 6.
@pytest.mark.parametrize(("where", "from_open", "room"), [("checkpoint", 2, 0), ("checkpoint", 2, 5000),
                                                          ("metrics", 6, 40)])  # fmt: skip
def test_a_full_disk_is_named_loses_nothing_and_the_run_resumes_exactly(
    synth_store, whole_run, tmp_path, cli, monkeypatch, where, from_open, room
):
    config_file = tmp_path / "run.toml"
    config_file.write_text(to_toml(config_for(synth_store, max_steps=8, checkpoint_every=4)))
    run = tmp_path / "run"
    fill_disk(monkeypatch, checkpoint if where == "checkpoint" else run_dir, from_open, room)
    output = cli("train", "--config", config_file, "--out", run, "-q", expect=1).output
    monkeypatch.undo()
    if where == "checkpoint":
        assert f"{run / 'checkpoints'}: no space left on its disk to write last.pt (it needs about " in output
        assert " free). The partial file was removed; last.pt is intact." in output
    else:
        assert f"{run}: no space left on its disk to write the run's files (" in output
    assert f"then continue with `mmprep train --resume {run}`" in output and "Traceback" not in output
    assert list((run / "checkpoints").glob("*.tmp")) == []
    assert checkpoint.load(run, "last")["progress"]["step"] == 4

    cli("train", "--resume", run, "-q")
    assert step_losses(run) == step_losses(whole_run)
    logged = [(m["step"], "loss" in m, m.get("event")) for m in metrics(run)]  # the file itself, line by line
    assert len(logged) == len(set(logged)) and logged == [(m["step"], "loss" in m, m.get("event"))
                                                            for m in metrics(whole_run)]  # fmt: skip


def test_a_full_disk_under_eval_keeps_the_earlier_report(run_copy, cli, monkeypatch):
    from prep.evaluate import evaluation

    cli("eval", run_copy, "-q")
    before = {p.name: p.read_bytes() for p in (run_copy / "eval").iterdir()}
    fill_disk(monkeypatch, evaluation, 1, 100)
    output = cli("eval", run_copy, "-q", expect=1).output
    assert "no space left on the disk" in output and "Traceback" not in output
    assert {p.name: p.read_bytes() for p in (run_copy / "eval").iterdir()} == before


def test_a_run_finds_its_store_from_any_folder_and_says_when_it_is_gone(synth_store, tmp_path, cli, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(synth_store, data / "syn.zarr")
    monkeypatch.chdir(data)
    config_file = tmp_path / "run.toml"
    config_file.write_text(to_toml(config_for("syn.zarr", max_steps=1)))  # as given: relative to this folder
    run = tmp_path / "run"
    cli("train", "--config", config_file, "--out", run, "-q")
    assert f'store = "{data / "syn.zarr"}"' in (run / "config.toml").read_text()  # recorded where it is

    monkeypatch.chdir("/")
    cli("eval", run, "--max-videos", "2", "--bootstrap", "10", "-q")
    cli("train", "--resume", run, "-q")

    (data / "syn.zarr").rename(data / "moved.zarr")
    output = cli("eval", run, "-q", expect=1).output
    assert f"the store of the run {run} was not found at {data / 'syn.zarr'}; pass --store" in output
    assert "Create one" not in output
    cli("eval", run, "--store", data / "moved.zarr", "--max-videos", "2", "--bootstrap", "10", "-q")


def test_a_run_from_before_absolute_stores_is_found_from_the_folder_it_was_trained_in(trained_run, tmp_path, cli,
                                                                                      monkeypatch):  # fmt: skip
    import torch

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    store = Path(torch.load(checkpoint.path(run, "best"), weights_only=True)["config"]["store"])
    for which in ("best", "last"):  # as runs wrote them before: the store as given, here relative to its parent
        state = torch.load(checkpoint.path(run, which), weights_only=True)
        state["config"]["store"] = store.name
        torch.save(state, checkpoint.path(run, which))
    monkeypatch.chdir(store.parent)
    cli("eval", run, "--max-videos", "2", "--bootstrap", "10", "-q")
    monkeypatch.chdir(tmp_path)
    output = cli("eval", run, "-q", expect=1).output
    assert f"the store of the run {run} was not found at {tmp_path / store.name} or {run / store.name}" in output
