"""An exported folder whose mmprep-model.json was edited by hand, cut, or deleted: refused with the file and the
field named, before anything is read from the folder; an export that finds the disk full leaves no unfinished
folder. The export is of the synth run (no MediaPipe needed), and translating a .pose file stands for translating
a video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES
from safetensors import SafetensorError

from prep.errors import InputError
from prep.inference import Translator, export, export_model
from prep.inference.export import load_export

POSE = FIXTURES / "pose" / "example.pose"


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> Path:
    folder, _ = export_model(trained_run, tmp_path_factory.mktemp("export") / "model")
    return folder


@pytest.fixture
def edited(exported, tmp_path):
    """A copy of the export, and a function that edits its mmprep-model.json as a dict."""
    folder = tmp_path / "model"
    shutil.copytree(exported, folder)
    path = folder / "mmprep-model.json"

    def edit(change) -> Path:
        spec = json.loads(path.read_text())
        change(spec)
        path.write_text(json.dumps(spec))
        return folder

    return edit


def test_the_intact_export_translates(exported, cli):
    assert cli("translate", exported, POSE, "-q").output.strip()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["data"].update(max_frames="abc"), "data.max_frames: 'abc' is not of type 'integer', 'null'"),
        (lambda s: s.pop("model"), "(top level): 'model' is a required property"),
        (lambda s: s.pop("files"), "(top level): 'files' is a required property"),
        (lambda s: s.update(files={}), "files: 'pose_fusion.safetensors' is a required property"),
        (lambda s: s["model"].update(fusion="sum"), "model.fusion: 'sum' is not one of 'token', 'gate'"),
        (lambda s: s["files"].pop("backbone/tokenizer.json"), "backbone/tokenizer.json is not among the files"),
        (lambda s: s["model"].update(text_dim=48), "(size mismatch for placeholder.mask: "),
        (lambda s: s["model"].update(text_tokens=True), "model: per-token text features (text_tokens) need token"),
    ],
)
def test_a_hand_edited_spec_is_refused_with_its_field(edited, cli, change, message):
    folder = edited(change)
    with pytest.raises(InputError, match=f"^{folder}/"):  # the file is named first
        load_export(folder)
    output = cli("translate", folder, POSE, "-q", expect=1).output
    assert message in output and "Traceback" not in output


def test_a_deleted_spec_is_an_unfinished_export_not_a_run(edited, cli):
    folder = edited(lambda s: None)
    (folder / "mmprep-model.json").unlink()
    output = cli("translate", folder, POSE, "-q", expect=1).output
    assert f"{folder} has no mmprep-model.json: an unfinished or damaged export" in output
    assert "checkpoint" not in output
    with pytest.raises(InputError, match=r"no mmprep-model\.json: an unfinished or damaged export"):
        Translator.from_pretrained(folder)


def test_a_full_disk_during_export_leaves_no_unfinished_folder(trained_run, tmp_path, cli, monkeypatch):
    def save_file(weights, path, metadata=None):  # as safetensors fails on a full disk (measured on a tmpfs)
        path.write_bytes(b"\0" * 100)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(export, "save_file", save_file)
    output = cli("export-model", trained_run, "--out", tmp_path / "model", expect=1).output
    assert f"{tmp_path}: no space left on its disk to write the exported model (it needs about " in output
    assert f"the unfinished {tmp_path / 'model'} was removed. Free some space, then export again" in output
    assert not (tmp_path / "model").exists() and "Traceback" not in output
