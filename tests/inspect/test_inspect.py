"""`mmprep inspect` and the line of `mmprep info` that points at it, on stores built without extraction (so they
run in the core environment too): a synthetic store (`mmprep synth`) and the real .pose files imported."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from helpers import FIXTURES, write_manifest
from inspect_helpers import assert_same_figures, counted_figures

import prep
from prep import schemas

SYNTH_VIDEOS = 12


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory) -> str:
    """12 synthetic videos (50-300 frames at 25 fps, hands out of the frame at rest and in short random runs)."""
    url = str(tmp_path_factory.mktemp("inspect") / "synth.zarr")
    from click.testing import CliRunner

    from prep.cli import main

    result = CliRunner().invoke(main, ["synth", url, "--videos", str(SYNTH_VIDEOS), "--seed", "3"])
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture
def imported_store(tmp_path, cli) -> str:
    """The three real .pose files of tests/fixtures/pose (MediaPipe Holistic on real signing)."""
    url = str(tmp_path / "imported.zarr")
    cli("import", FIXTURES / "pose", "--store", url)
    return url


def inspect(cli, store: str, out, *options) -> dict:
    """inspect.json, checked against its schema (no strips unless asked: they are the page test's)."""
    cli("inspect", "--store", store, "--out", out, "-q", "--worst", "0", *options)
    report = json.loads((out / "inspect.json").read_text(encoding="utf-8"))
    assert schemas.errors("inspect", report) == []
    return report


def test_every_figure_is_the_count_of_the_stored_confidences(synth_store, imported_store, cli, tmp_path):
    """Each video's shares, longest run, signer size and jitter steps, against the tests' own frame-by-frame
    count (inspect_helpers.counted_figures), on synthetic and on real poses; each flag against its threshold."""
    for url, out in ((synth_store, tmp_path / "synth"), (imported_store, tmp_path / "imported")):
        report = inspect(cli, url, out)
        store = prep.open_store(url)
        assert [v["id"] for v in report["videos"]] == store.ids and report["n_videos"] == len(store.ids)
        for record in report["videos"]:
            counted = counted_figures(store, record["id"])
            assert_same_figures(record, counted)
            expected = [
                flag
                for flag, raised in (
                    ("hands_missing", counted["no_hand"] > 0.5),
                    ("long_gap", counted["longest_no_hand"]["seconds"] > 1.0),
                    ("small_signer", counted["signer_size"] < 0.15),
                    ("jitter", counted["jitter"]["outliers"] > 0.05 * counted["jitter"]["steps"]),
                )
                if raised
            ]
            assert record["flags"] == expected, record["id"]
        assert report["flagged"]["total"] == sum(bool(v["flags"]) for v in report["videos"])
    # The real files: example.pose's signer rests both hands out of the frame for its last 33 frames (1.32 s at
    # 25 fps), and no hand is found in 50 of its 97 frames; the other two keep their hands up.
    example = next(v for v in report["videos"] if v["id"] == "example")
    assert example["flags"] == ["hands_missing", "long_gap"] and example["longest_no_hand"]["frames"] == 33
    assert [v["flags"] for v in report["videos"] if v["id"] != "example"] == [[], []]


def test_thresholds_are_options(synth_store, cli, tmp_path):
    strict = inspect(cli, synth_store, tmp_path / "strict", "--max-hands-missing", "0", "--max-gap", "0",
                     "--min-signer-size", "1", "--max-jitter", "0", "--max-hand-speed", "0.01")  # fmt: skip
    assert all(v["flags"] == ["hands_missing", "long_gap", "small_signer", "jitter"] for v in strict["videos"])
    lenient = inspect(cli, synth_store, tmp_path / "lenient", "--max-hands-missing", "100", "--max-gap", "1000",
                      "--min-signer-size", "0", "--max-jitter", "100")  # fmt: skip
    assert lenient["flagged"]["total"] == 0
    assert lenient["thresholds"] == {"max_hands_missing": 100.0, "max_gap": 1000.0, "min_signer_size": 0.0,
                                     "max_hand_speed": 15.0, "max_jitter": 100.0}  # fmt: skip


def test_split_selects_videos(synth_store, cli, tmp_path):
    store = prep.open_store(synth_store)
    report = inspect(cli, synth_store, tmp_path / "test", "--split", "test", "--split", "dev")
    expected = [i for i in store.ids if store.video(i)["split"] in ("dev", "test")]
    assert [v["id"] for v in report["videos"]] == expected and expected
    assert report["splits"] == ["dev", "test"]


def test_the_page_is_self_contained_and_shows_the_worst_first(synth_store, cli, tmp_path):
    report = inspect(cli, synth_store, tmp_path / "page", "--worst", "3")
    page = (tmp_path / "page" / "index.html").read_text(encoding="utf-8")
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:)', page)  # nothing from elsewhere
    images = re.findall(r'<img src="data:image/(png|jpeg);base64,', page)
    assert images.count("png") == 1 and images.count("jpeg") == 3 * 8  # the distributions; 3 strips of 8 frames
    flagged = sorted(report["videos"], key=lambda v: (-len(v["flags"]), -v["no_hand"]))
    worst = [v["id"] for v in flagged[:3]]
    headings = re.findall(r"<h3>(\S+) &nbsp;", page)
    assert headings[:3] == worst
    # Synthetic videos have no source file: drawn on the plain background, and the page says why.
    assert page.count("On a plain background: its source synth:seed=3/") == 3
    flagged_table = page.split("<h2>Flagged videos")[1].split("<details>")[0]
    assert all(v["id"] in flagged_table for v in report["videos"] if v["flags"])


def test_info_ends_with_a_pointer_to_inspect(imported_store, tmp_path, cli):
    output = cli("info", "--store", imported_store).output
    assert output.rstrip().splitlines()[-1] == (
        f"quality    1 of 3 ok videos flagged (hands_missing 1, long_gap 1); see `mmprep inspect --store "
        f"{imported_store} --out DIR`"
    )
    assert "quality" not in cli("info", "--json", "--store", imported_store).output  # the JSON keeps its schema
    clean = str(tmp_path / "clean.zarr")  # the two files whose hands stay up: nothing to point at
    for name in ("6fb01565da31c5500d1ef2cd2906b06b", "7731febd6afbbe90f806a4434c282016"):
        cli("import", FIXTURES / "pose" / f"{name}.pose", "--store", clean)
    assert "quality" not in cli("info", "--store", clean).output


def test_a_store_without_poses_is_refused(tmp_path, cli):
    url = str(tmp_path / "empty.zarr")
    cli("manifest", write_manifest(tmp_path / "m.csv", [("v1", "train", "a")]), "--store", url)
    output = cli("inspect", "--store", url, "--out", tmp_path / "out", expect=1).output
    assert "holds no poses yet" in output and "Traceback" not in output and not (tmp_path / "out").exists()
    assert "quality" not in cli("info", "--store", url).output


def test_the_commands_load_lazily():
    """`mmprep --help` lists inspect and render without loading what drawing and plotting need."""
    code = (
        "import sys, prep.cli.base as b; b.main.get_command(None, 'inspect'); b.main.get_command(None, 'render'); "
        "print(*sorted(set(sys.modules)))"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "prep.cli.inspect" in loaded
    assert {"torch", "matplotlib", "av", "PIL", "prep.inspect.page", "prep.inspect.clip"} & loaded == set()
