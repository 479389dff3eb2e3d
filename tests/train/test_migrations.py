"""Saved configurations of every format version, read as their runs were trained (prep/train/migrations.py).

formats/first/config.toml was written by mmprep's first runnable training (commit 851b16a, its ``to_toml``, for
``--store synth.zarr --backbone tiny``), before files had a format version; formats/v1/ holds a config.toml and a
checkpoint's model_config as mmprep wrote them at version 1. An option or model field added without a migration
step cannot be read from them. The old run is today's, written back in the first format: its config.toml and
checkpoints hold only what the first mmprep wrote (its options, the model's first fields, no format version), its
weights are a model trained with the values the first mmprep had for everything added since.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
import torch
from train_helpers import config_for, interrupt_at_batch, step_losses

from prep.errors import InputError
from prep.evaluate.loading import load_run
from prep.inference import export_model, model_card
from prep.inference.export import SPEC, load_export
from prep.inference.spec import run_spec
from prep.model.translation import ModelConfig
from prep.train import checkpoint, migrations
from prep.train.config import load_toml, to_toml
from prep.train.loop import train
from prep.train.run_dir import CONFIG, read_config, resumed_config

FORMATS = Path(__file__).parent / "formats"
# The first mmprep's options: those of its config.toml, and those null there (a file leaves them out)
FIRST_OPTIONS = {*tomllib.loads((FORMATS / "first" / CONFIG).read_text(encoding="utf-8")), "text_ratio",
                 "placeholder_schedule", "max_steps", "eval_max_videos"}  # fmt: skip
# The fields of the first ModelConfig (commit c7f4679), all a first checkpoint's model_config held; the first
# exports (mmprep-model.json format 1, commit 2f23cf1) held these and the fields added by then.
FIRST_MODEL = ("n_points", "text_dim", "placeholder", "placeholder_kinds", "gate_bias", "noise_scale", "pose_layers",
               "pose_kernel", "dropout")  # fmt: skip
FIRST_EXPORT_MODEL = (*FIRST_MODEL, "pose_stride", "pose_velocity", "fusion", "glosses", "text_tokens")
NEWER = rf"written by a newer mmprep: configuration format version {migrations.CONFIG_VERSION + 1}, .* Upgrade mmprep"


def written_first(run: Path, old: Path) -> Path:
    """A copy of ``run`` whose config.toml and checkpoints are as the first mmprep wrote them."""
    shutil.copytree(run, old)
    values = tomllib.loads((run / CONFIG).read_text(encoding="utf-8"))
    (old / CONFIG).write_text(to_toml({k: v for k, v in values.items() if k in FIRST_OPTIONS}), encoding="utf-8")
    for path in (old / "checkpoints").glob("*.pt"):
        state = torch.load(path, weights_only=True)
        del state[migrations.VERSION_KEY], state["progress"]["metrics_bytes"]
        state["config"] = {k: v for k, v in state["config"].items() if k in FIRST_OPTIONS}
        state["model_config"] = {k: state["model_config"][k] for k in FIRST_MODEL}
        torch.save(state, path)
    return old


@pytest.fixture(scope="module")
def runs(synth_store, tmp_path_factory) -> tuple[Path, Path]:
    """(a run stopped at step 2 of 4, the same run written in the first format)."""
    work = tmp_path_factory.mktemp("formats")
    config = config_for(synth_store, max_steps=4, eval_max_videos=2, **migrations.STEPS[0].options)  # as then
    with pytest.MonkeyPatch.context() as monkeypatch:
        interrupt_at_batch(monkeypatch, 3)
        with pytest.raises(KeyboardInterrupt):
            train(config, work / "today", progress=False)
    return work / "today", written_first(work / "today", work / "first")


def test_a_config_toml_of_the_first_mmprep_reads_as_its_runs_were_trained(tmp_path):
    run = shutil.copytree(FORMATS / "first", tmp_path / "run")
    config = read_config(run)
    # What the first mmprep did where it had no option: every frame a step, no motion, the gate, no prior...
    assert (config["pose_stride"], config["pose_velocity"], config["pose_positions"]) == (1, False, False)
    assert (config["fusion"], config["text_prior"], config["ctc_weight"]) == ("gate", False, 0.0)
    assert (config["word_dropout"], config["augment"], config["tiny_max_piece_length"]) == (0.0, False, 16)
    # ... and what the file says, today's defaults being other
    assert (config["epochs"], config["tiny_d_model"], config["lr"]) == (30, 128, 5e-4)
    assert resumed_config(run, {"device": "cpu"})["pose_stride"] == 1
    text = (run / CONFIG).read_text(encoding="utf-8")
    (run / CONFIG).write_text(text + 'ctc_input = "pose"\n', encoding="utf-8")  # 3 December: removed since
    assert read_config(run) == config
    (run / CONFIG).write_text(text + 'ctc_input = "encoder"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"config\.toml: ctc_input = 'encoder', an option this mmprep no longer has"):
        read_config(run)


def test_a_config_of_version_1_reads_whole_and_a_damaged_one_is_named(tmp_path):
    run = shutil.copytree(FORMATS / "v1", tmp_path / "run")
    values = tomllib.loads((run / CONFIG).read_text(encoding="utf-8"))
    assert values.pop(migrations.VERSION_KEY) == 1
    config = read_config(run)
    assert {k: config[k] for k in values} == values
    model = json.loads((run / "model_config.json").read_text(encoding="utf-8"))
    assert ModelConfig.from_dict(migrations.model(model, 1, "model_config.json")).to_dict() == model
    text = (run / CONFIG).read_text(encoding="utf-8")
    (run / CONFIG).write_text(text.replace("epochs = 100\n", ""), encoding="utf-8")
    with pytest.raises(InputError, match=r"config\.toml lacks epochs: a saved configuration records every option"):
        read_config(run)
    with pytest.raises(InputError, match=r"model_config\.json: no pose_stride"):
        migrations.model({k: v for k, v in model.items() if k != "pose_stride"}, 1, "model_config.json")
    with pytest.raises(ValueError, match="no pose_stride"):  # a reader that skips the table gets no default
        ModelConfig.from_dict({k: v for k, v in model.items() if k != "pose_stride"})


def test_an_old_run_is_evaluated_and_exported_as_it_was_trained(runs, tmp_path):
    today, first = runs
    assert migrations.VERSION_KEY not in (first / CONFIG).read_text(encoding="utf-8")
    assert read_config(first) == read_config(today)  # every option, as trained
    old, new = checkpoint.load(first), checkpoint.load(today)
    assert (old["config"], old["model_config"]) == (new["config"], new["model_config"])
    run = load_run(first, "last", device="cpu")  # as eval, translate and export-model load it
    model = run.model
    assert (model.config.pose_stride, model.config.fusion, model.text_prior) == (1, "gate", None)
    trained = load_run(today, "last", device="cpu").model.state_dict()
    assert all(torch.equal(value, trained[name]) for name, value in model.state_dict().items())
    run.config = {**run.config, "pose_stride": 4, "pose_velocity": True}  # training options that are not the model's
    assert "stride 1, velocity off, positions off" in model_card.render(run, run_spec(run)[0])  # the model's own

    folder, _ = export_model(first, tmp_path / "export", checkpoint="last")
    assert "stride 1, velocity off, positions off" in (folder / "README.md").read_text(encoding="utf-8")
    spec = json.loads((folder / SPEC).read_text(encoding="utf-8"))
    assert spec[migrations.VERSION_KEY] == migrations.CONFIG_VERSION and spec["model"] == model.config.to_dict()
    # An export of format 1 (before configurations had a version) lacks the model fields added since 2 December
    first_spec = {k: v for k, v in spec.items() if k != migrations.VERSION_KEY} | {"format_version": 1}
    first_spec["model"] = {k: spec["model"][k] for k in FIRST_EXPORT_MODEL}
    (folder / SPEC).write_text(json.dumps(first_spec), encoding="utf-8")
    assert load_export(folder, "cpu")[0].config == model.config


def test_an_old_run_resumes_as_it_was_trained(runs, tmp_path):
    today, first = (shutil.copytree(run, tmp_path / run.name) for run in runs)
    for run in (today, first):
        train(resumed_config(run, {}), run, resume=True, progress=False)
    assert step_losses(first) == step_losses(today) and sorted(step_losses(first)) == [1, 2, 3, 4]
    assert read_config(first) == read_config(today)  # the resumed run rewrote config.toml in today's format
    assert f"{migrations.VERSION_KEY} = {migrations.CONFIG_VERSION}" in (first / CONFIG).read_text(encoding="utf-8")


def test_files_of_a_newer_mmprep_are_refused_naming_the_file(runs, tmp_path, cli):
    run = shutil.copytree(runs[0], tmp_path / "run")
    config = run / CONFIG
    newer = migrations.CONFIG_VERSION + 1
    config.write_text(config.read_text(encoding="utf-8").replace(
        f"{migrations.VERSION_KEY} = {migrations.CONFIG_VERSION}", f"{migrations.VERSION_KEY} = {newer}"
    ), encoding="utf-8")  # fmt: skip
    for read in (read_config, lambda r: load_toml(r / CONFIG)):  # --resume, report; --config
        with pytest.raises(InputError, match=f"^{config} was {NEWER}"):
            read(run)
    output = cli("train", "--resume", run, expect=1).output
    assert f"{config} was written by a newer mmprep" in output and "Traceback" not in output

    config.write_text(to_toml(read_config(runs[0]), migrations.CONFIG_VERSION), encoding="utf-8")
    last = run / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    torch.save({**state, migrations.VERSION_KEY: newer}, last)
    output = cli("eval", run, "--checkpoint", "last", expect=1).output  # translate and export-model read it alike
    assert f"{last} was written by a newer mmprep" in output and "Traceback" not in output

    torch.save(state, last)
    folder, _ = export_model(run, tmp_path / "export", checkpoint="last")
    spec = json.loads((folder / SPEC).read_text(encoding="utf-8"))
    (folder / SPEC).write_text(json.dumps({**spec, migrations.VERSION_KEY: newer}), encoding="utf-8")
    with pytest.raises(InputError, match=f"^{folder / SPEC} was {NEWER}"):
        load_export(folder, "cpu")
