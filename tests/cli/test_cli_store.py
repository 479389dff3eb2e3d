"""manifest, info, validate: the commands and the bad inputs they must refuse without touching the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from helpers import fake_result, snapshot, write_manifest
from hypothesis import given
from hypothesis import strategies as st

import prep
from prep import schemas
from prep.layout import holistic

ROWS = [("v1", "train", "你好"), ("v2", "dev", "谢谢你"), ("sub/v3", "test", "再见")]


def test_help_lists_the_commands(cli):
    from prep.cli.base import COMMANDS

    listed = cli("--help").output.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in listed] == sorted(COMMANDS)  # every command, each with its summary
    assert all(len(line.split()) > 1 for line in listed)
    assert prep.__version__ in cli("--version").output


def test_each_command_is_loaded_from_the_module_that_defines_it():
    """The lazy group's map (prep/cli/base.py COMMANDS) names every command, each with its own module."""
    import importlib
    import pkgutil

    import prep.cli
    from prep.cli.base import COMMANDS, main

    for module in pkgutil.iter_modules(prep.cli.__path__):
        importlib.import_module(f"prep.cli.{module.name}")
    assert set(main.commands) == set(COMMANDS)
    for name, command in main.commands.items():
        assert command.callback.__module__ == f"prep.cli.{COMMANDS[name]}", name


def test_the_command_line_loads_no_torch():
    """torch and transformers take seconds to import: `mmprep --help` and `mmprep extract` (whose worker
    processes wait for the command to start them) must not pay for them; the commands that need them import
    them when they run, and loading one command's module loads no other's."""
    heavy = {"torch", "transformers", "mediapipe", "distributed"}
    code = "import sys, prep.cli.base as b; b.main.get_command(None, 'extract'); print(*sorted(set(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "prep.cli.extract" in loaded
    assert heavy & loaded == set()
    assert "prep.cli.train" not in loaded  # another command's module


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_manifest_formats(tmp_path, store_url, cli, suffix):
    path = tmp_path / f"m{suffix}"
    if suffix == ".jsonl":
        rows = [{"id": i, "split": s, "translation": t, "description": f"描述{i}"} for i, s, t in ROWS]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        sep = "," if suffix == ".csv" else "\t"
        path.write_text(
            sep.join(["id", "split", "translation", "signer"]) + "\n"
            + "".join(sep.join([i, s, t, "P1"]) + "\n" for i, s, t in ROWS), encoding="utf-8"
        )  # fmt: skip
    assert "3 added" in cli("manifest", path, "--store", store_url).output
    store = prep.open_store(store_url)
    assert store.ids == ["v1", "v2", "sub/v3"]
    assert [store.video(i)["split"] for i in store.ids] == ["train", "dev", "test"]
    assert store.video("v2")["translation"] == "谢谢你"
    assert store.video("v2")["description"] == ("描述v2" if suffix == ".jsonl" else "")


def test_manifest_updates_known_rows(tmp_path, store_url, cli):
    cli("manifest", write_manifest(tmp_path / "a.csv", ROWS), "--store", store_url)
    out = cli("manifest", write_manifest(tmp_path / "b.csv", [("v2", "train", "新"), ("v4", "dev", "四")]),
              "--store", store_url).output  # fmt: skip
    assert "1 added, 1 updated" in out
    store = prep.open_store(store_url)
    assert store.video("v2")["split"] == "train" and store.ids[-1] == "v4"


BAD = {
    "missing column": ("id,split\nv1,train\n", "header: missing column(s) translation. Found: id, split; expected"),
    "unknown split": ("id,split,translation\nv1,valid,x\n", "2: split: 'valid' is not one of"),
    "duplicate id": ("id,split,translation\nv1,train,x\nv1,dev,y\n", "3: id: duplicate id 'v1' (first on line 2)"),
    "empty id": ("id,split,translation\n,train,x\n", "2: id: '' should be non-empty"),
    "escaping id": ("id,split,translation\n../x,train,x\n", "2: id: '../x' is not allowed"),
    "absolute id": ("id,split,translation\n/etc/x,train,x\n", "2: id: '/etc/x' is not allowed"),
    "unknown column": (
        "id,split,translation,lang\nv1,train,x,zh\n",
        "header: unknown column(s) lang. Found: id, split, translation, lang; expected: id, split, translation "
        "(optional: signer, gloss, description)",
    ),
    "a corpus's own columns": (
        "name|video|start|end|speaker|orth|translation\nx|x/1/*.png|-1|-1|Signer01|A B|ein satz\n",
        "header: unknown column(s) name, video, start, end, speaker, orth; missing column(s) id, split. Found: name, "
        "video, start, end, speaker, orth, translation",
    ),
    "short row": ("id,split,translation\nv1,train\n", "2: expected 3 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifest_is_refused_and_the_store_untouched(tmp_path, store_url, cli, case):
    text, expected = BAD[case]
    cli("manifest", write_manifest(tmp_path / "ok.csv", ROWS), "--store", store_url)
    before = snapshot(store_url)
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8")
    result = cli("manifest", bad, "--store", store_url, expect=1)
    assert f"{bad}:" in result.output and expected in result.output
    assert snapshot(store_url) == before
    assert not os.path.exists(store_url + ".lock")


@pytest.mark.parametrize(
    ("name", "text", "option"),
    [
        ("split_1.txt", "id|split|translation\nv1|train|你好\nv2|dev|谢谢, 你\n", ()),  # sniffed: | beats ,
        ("m.csv", "id;split;translation\nv1;train;你好\nv2;dev;谢谢, 你\n", ()),
        ("m.tsv", "id|split|translation\nv1|train|你好\nv2|dev|谢谢, 你\n", ("--delimiter", "|")),
        ("m.csv", 'id,split,translation\nv1,train,你好\nv2,dev,"谢谢, 你"\n', ()),
    ],
)
def test_manifest_delimiters_are_sniffed_or_given(tmp_path, store_url, cli, name, text, option):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert "2 added" in cli("manifest", path, "--store", store_url, *option).output
    store = prep.open_store(store_url)
    assert store.video("v2")["translation"] == "谢谢, 你" and store.video("v1")["split"] == "train"


def test_a_tsv_given_the_wrong_delimiter_names_what_it_found(tmp_path, store_url, cli):
    path = tmp_path / "m.tsv"
    path.write_text("id|split|translation\nv1|train|x\n", encoding="utf-8")
    output = cli("manifest", path, "--store", store_url, expect=1).output
    assert "unknown column(s) id|split|translation" in output and not os.path.exists(store_url)


def test_undecodable_manifest_names_the_line_and_creates_no_store(tmp_path, store_url, cli):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("id,split,translation\nv1,train,ok\nv2,dev,caf\xe9\n".encode("latin-1"))
    result = cli("manifest", bad, "--store", store_url, expect=1)
    assert f"{bad}:3: not valid UTF-8" in result.output
    assert not os.path.exists(store_url)


def test_bad_jsonl_lines(tmp_path, store_url, cli):
    bad = tmp_path / "m.jsonl"
    bad.write_text('{"id": "a", "split": "train", "translation": "x"}\n{"id": "b",\n[1, 2]\n', encoding="utf-8")
    output = cli("manifest", bad, "--store", store_url, expect=1).output
    assert f"{bad}:2: not valid JSON" in output and f"{bad}:3: expected a JSON object" in output


def test_info_json_matches_its_schema(tmp_path, store_url, cli):
    cli("manifest", write_manifest(tmp_path / "m.csv", ROWS), "--store", store_url)
    with prep.open_store(store_url, mode="a") as store:
        store.set_layout(holistic())
        store.commit_videos([fake_result("v1", 40), fake_result("v2", 60, seed=1),
                             prep.VideoResult("sub/v3", "no_person", error="no person on any of 12 frames",
                                              n_frames=12)])  # fmt: skip
    info = json.loads(cli("info", "--json", "--store", store_url).output)
    assert schemas.errors("info", info) == []
    assert info["status"] == {"pending": 0, "ok": 2, "failed": 0, "no_person": 1}
    assert info["frames"]["total"] == 100 and info["frames"]["max"] == 60 and info["frames"]["p50"] == 50
    assert info["failures"] == [{"id": "sub/v3", "status": "no_person", "error": "no person on any of 12 frames",
                                 "source": ""}]  # fmt: skip
    assert info["layout"]["components"] == {"POSE": 33, "FACE": 468, "LEFT_HAND": 21, "RIGHT_HAND": 21}
    text = cli("info", "--store", store_url).output
    assert "no_person 1" in text and "sub/v3" in text and "median 50" in text


def test_commands_on_a_missing_store_say_how_to_make_one(tmp_path, cli):
    output = cli("info", "--store", tmp_path / "none.zarr", expect=1).output
    assert "mmprep manifest FILE" in output


def corrupt(store_url: str, column: str, row: int, value) -> None:
    array = zarr.open_group(store_url, mode="r+")[f"videos/{column}"]
    array[row : row + 1] = np.array([value], dtype=array.dtype if array.dtype != object else object)


@pytest.mark.parametrize(
    ("column", "row", "value", "expected"),
    [
        ("id", 1, "v1", "row 1: duplicate id 'v1'"),
        ("status", 0, "done", "row 0 (v1): status: 'done' is not one of"),
        ("n_frames", 1, 10_000, "frames end past the pose arrays"),
        ("frame_offset", 1, 5, "frame ranges overlap"),
        ("split", 2, "val", "row 2 (sub/v3): split: 'val' is not one of"),
    ],
)
def test_validate_catches_an_inconsistent_table(tmp_path, store_url, cli, column, row, value, expected):
    cli("manifest", write_manifest(tmp_path / "m.csv", ROWS), "--store", store_url)
    with prep.open_store(store_url, mode="a") as store:
        store.set_layout(holistic())
        store.commit_videos([fake_result("v1", 40), fake_result("v2", 60, seed=1)])
    cli("validate", "--store", store_url)
    corrupt(store_url, column, row, value)
    result = cli("validate", "--store", store_url, expect=1)
    assert expected in result.output


def test_validate_catches_bad_values_and_metadata(tmp_path, store_url, cli):
    cli("manifest", write_manifest(tmp_path / "m.csv", ROWS), "--store", store_url)
    with prep.open_store(store_url, mode="a") as store:
        store.set_layout(holistic())
        store.commit_videos([fake_result("v1", 40)])
    root = zarr.open_group(store_url, mode="r+")
    root["pose/conf"][3, 7] = 1.5
    root["pose/xyz"][5, 0, 0] = np.nan
    root.attrs["mmprep"] = {**root.attrs["mmprep"], "created": "yesterday"}
    output = cli("validate", "--store", store_url, expect=1).output
    assert "non-finite coordinates" in output and "confidences outside [0, 1]" in output
    assert "mmprep.created: 'yesterday' is not allowed" in output
    assert "non-finite" not in cli("validate", "--quick", "--store", store_url, expect=1).output


@given(st.text(min_size=1, max_size=40))
def test_any_id_the_schema_accepts_stays_inside_its_folder(candidate):
    if schemas.errors("manifest-row", {"id": candidate, "split": "train", "translation": "x"}):
        return
    base = Path("/data/poses")
    resolved = (base / candidate).resolve()
    assert resolved.is_relative_to(base) and resolved != base
