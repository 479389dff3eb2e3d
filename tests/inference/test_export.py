"""`mmprep export-model`: a folder that loads in a fresh process with no store, no network and no pickle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from prep.errors import InputError
from prep.evaluate import read
from prep.inference import Translator

pytestmark = pytest.mark.mediapipe  # the run's store is extracted from the sample video (video_run)
# Run in a fresh interpreter. After the imports, an audit hook refuses: opening any file of the run or its store,
# any network connection or name lookup, and any unpickling; then the exported folder is loaded and translates.
FRESH = """
import json, sys
from pathlib import Path
import prep.inference, transformers, torch  # imports first: the hook watches the loading and translating
folder, video, description, *forbidden = sys.argv[1:]

def guard(event, args):
    if event == "open" and isinstance(args[0], str | bytes | Path):
        path = str(Path(args[0] if not isinstance(args[0], bytes) else args[0].decode()).absolute())
        if any(path.startswith(f) for f in forbidden):
            raise RuntimeError(f"opened {path}")
    if event in ("socket.connect", "socket.getaddrinfo") or event.startswith("pickle."):
        raise RuntimeError(f"{event} {args}")

sys.addaudithook(guard)
translator = prep.inference.Translator.from_pretrained(folder)
out = [translator.translate(video), translator.translate(video, description)]
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def exported(video_run, tmp_path_factory) -> Path:
    from prep.inference import export_model

    folder, notes = export_model(video_run.run, tmp_path_factory.mktemp("export") / "model")
    assert notes == []
    return folder


def test_the_exported_folder_loads_in_a_fresh_process_and_translates_the_same(video_run, exported, sample_video):
    description = video_run.descriptions["c"]
    translator = Translator.from_run(video_run.run)
    expected = [translator.translate(sample_video), translator.translate(sample_video, description)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}  # not even offline mode is needed
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    forbidden = [str(video_run.run.absolute()), str(Path(video_run.store).absolute())]
    done = subprocess.run([sys.executable, "-c", FRESH, exported, sample_video, description, *forbidden], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert [g["translation"] for g in got] == [e["translation"] for e in expected]
    assert got[0]["translation"] != got[1]["translation"]  # the description reached the model
    for g, e in zip(got, expected, strict=True):
        assert g["has_text"] == e["has_text"]
        assert g["text_norm_share"] == pytest.approx(e["text_norm_share"], rel=1e-6)
        assert g["confidence"] == pytest.approx(e["confidence"], rel=1e-5)


def test_the_folder_holds_safetensors_json_and_a_model_card(video_run, exported, cli, sample_video):
    spec = json.loads((exported / "mmprep-model.json").read_text(encoding="utf-8"))
    assert spec["extraction"] == {"stride": 2, "max_frames": None, "refine_face": False, "model_complexity": 1}
    assert spec["data"]["normalize"] is True and spec["data"]["max_frames"] == 20 and len(spec["data"]["points"]) == 125
    assert spec["text_encoder"]["pooling"] == "mean" and spec["text_encoder"]["dim"] == 32
    assert set(spec["files"]) >= {"pose_fusion.safetensors", "backbone/model.safetensors", "backbone/config.json"}
    assert not [p for p in exported.rglob("*") if p.suffix in (".pt", ".bin", ".pkl", ".pickle")]
    card = (exported / "README.md").read_text(encoding="utf-8")
    report = read(video_run.eval_report)[0]
    assert f"| dev | missing-aware | 1 | best (step {report['step']}) | 2 (1) | {report['bleu']['4']:.2f} |" in card
    assert "placeholder `mask+indicator`" in card and "text dropout `none`" in card
    assert f"{report['consistency']['kl']['value']:.3f}" in card
    # The card describes the fusion the model has (token, with per-token features): nothing about a gate.
    assert "as more input steps before the pose steps and as a word prior on the output" in card
    assert "- fusion: `token`: the pooled description feature is one input step before the pose steps, its " \
           "per-token features follow it; a learned no-text embedding" in card  # fmt: skip
    assert "gate" not in card.split("## Evaluation")[0]
    assert (
        "Each translation comes with `text_norm_share`, how much of the description the model's fusion lets in" in card
    )
    # `mmprep translate DIR` takes the folder as it takes a run.
    assert cli("translate", exported, sample_video, "-q").stdout == cli("translate", video_run.run, sample_video,
                                                                         "-q").stdout  # fmt: skip


@pytest.mark.parametrize("damage", ["truncate", "flip", "remove", "unreadable", "backbone"])
def test_a_damaged_or_missing_weight_file_is_a_clear_error(exported, tmp_path, damage):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    weights = folder / "pose_fusion.safetensors"
    spec_path = folder / "mmprep-model.json"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:100])
        message = "pose_fusion.safetensors is damaged or was changed"
    elif damage == "flip":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))
        message = "pose_fusion.safetensors is damaged or was changed"
    elif damage == "remove":
        weights.unlink()
        message = "pose_fusion.safetensors is missing: the exported folder is incomplete"
    elif damage == "unreadable":  # a damaged file whose hash was recorded as is: the reader's own error
        weights.write_bytes(b"\xff" * 64)
        spec = json.loads(spec_path.read_text())
        spec["files"]["pose_fusion.safetensors"] = __import__("hashlib").sha256(b"\xff" * 64).hexdigest()
        spec_path.write_text(json.dumps(spec))
        message = "pose_fusion.safetensors: not a readable safetensors file"
    else:
        (folder / "backbone" / "model.safetensors").unlink()
        message = "backbone/model.safetensors is missing"
    with pytest.raises(InputError, match=message):
        Translator.from_pretrained(folder)


def test_a_moved_text_encoder_is_named_and_found_with_text_model(exported, tmp_path, sample_video, tiny_mt5):
    folder = tmp_path / "moved"
    shutil.copytree(exported, folder)
    spec_path = folder / "mmprep-model.json"
    spec = json.loads(spec_path.read_text())
    spec["text_encoder"]["model"] = str(tmp_path / "gone" / "mt5")
    spec_path.write_text(json.dumps(spec))
    translator = Translator.from_pretrained(folder)
    without = translator.translate(sample_video)  # no description: no encoder needed
    with pytest.raises(InputError, match="is not on this machine; pass its folder with --text-model"):
        translator.translate(sample_video, "一位女士在室内打手语。")
    moved = tmp_path / "encoder"
    shutil.copytree(tiny_mt5, moved)
    found = Translator.from_pretrained(folder, text_model=str(moved))
    assert found.translate(sample_video)["translation"] == without["translation"]
    original = Translator.from_pretrained(exported).translate(sample_video, "一位女士在室内打手语。")
    assert found.translate(sample_video, "一位女士在室内打手语。")["translation"] == original["translation"]
    assert found.notes == []  # the same files: the same revision


def test_not_an_export_and_an_occupied_folder(video_run, tmp_path, cli):
    with pytest.raises(InputError, match="is not an exported model"):
        Translator.from_pretrained(tmp_path)
    (tmp_path / "x").write_text("")
    result = cli("export-model", video_run.run, "--out", tmp_path, expect=1)
    assert "exists and is not empty" in result.output


def test_open_takes_a_run_or_an_export_and_refuses_a_store_for_an_export(video_run, exported, sample_video):
    from_export, from_run = Translator.open(exported), Translator.open(video_run.run)
    assert from_export.translate(sample_video)["translation"] == from_run.translate(sample_video)["translation"]
    for asked in ({"store_url": video_run.store}, {"checkpoint": "last"}):
        with pytest.raises(InputError, match="is an exported model: it has one checkpoint and needs no --store"):
            Translator.open(exported, **asked)
