"""`mmprep prepare`: CSL-Daily and PHOENIX-2014T in their own file formats, at tiny scale, built here.

The fixtures write each corpus's real layout (split file and label pickle; '|'-separated corpus CSVs; folders
of JPEG or PNG frames) with a handful of sentences whose frames are cut from tests/fixtures/signing.mp4.
Nothing of the corpora themselves is in the repository.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers import write_frames

import prep
from prep.corpora import RECIPES

CSL = [  # name, split, signer, glosses, characters
    ("S000000_P0000_T00", "train", 0, ["他", "谁"], ["他", "是", "谁", "？"]),
    ("S000001_P0003_T00", "dev", 3, ["今天", "天气", "好"], ["今", "天", "天", "气", "很", "好", "。"]),
    ("S000002_P0001_T00", "test", 1, ["我", "学", "手语"], ["我", "想", "学", "习", "手", "语", "。"]),
    ("S000003_P0002_T00", "train", 2, ["你", "好"], ["你", "好", "！"]),
]
PHOENIX = {  # split -> (name, signer, gloss, translation)
    "train": [("11August_2010_Wednesday_tagesschau-1", "Signer08", "JETZT WETTER MORGEN", "und nun die wettervorhersage für morgen"),
              ("25October_2010_Monday_tagesschau-17", "Signer01", "REGEN SCHNEE", "regen und schnee lassen nach")],
    "dev": [("11August_2010_Wednesday_tagesschau-2", "Signer08", "DRUCK TIEF KOMMEN", "tiefer luftdruck bestimmt unser wetter")],
    "test": [("26January_2010_Tuesday_heute-107", "Signer03", "SCHOEN ABEND WUENSCHEN", "jetzt wünsche ich ihnen noch einen schönen abend")],
}  # fmt: skip
FRAMES = 3  # per sentence: enough to be a video, few enough for MediaPipe to be quick


def csl_labels(entries=CSL) -> dict:
    """The label pickle's content: 'info' one dict per sentence, plus vocabularies."""
    info = [
        {"name": name, "length": FRAMES, "label_gloss": gloss, "label_char": chars, "label_word": chars,
         "label_postag": ["n"] * len(chars), "signer": signer, "time": 0}
        for name, _, signer, gloss, chars in entries
    ]  # fmt: skip
    glosses = sorted({g for *_, gloss, _ in entries for g in gloss})
    chars = sorted({c for *_, cs in entries for c in cs})
    return {"info": info, "gloss_map": glosses, "char_map": chars, "word_map": chars, "postag_map": ["n"]}


@pytest.fixture
def csl_root(tmp_path, sample_rgb) -> Path:
    root = tmp_path / "CSL-Daily"
    labels = root / "sentence_label"
    labels.mkdir(parents=True)
    (labels / "split_1.txt").write_text("name|split\n" + "".join(f"{n}|{s}\n" for n, s, *_ in CSL), encoding="utf-8")
    (labels / "csl2020ct_v2.pkl").write_bytes(pickle.dumps(csl_labels()))
    square = [np.ascontiguousarray(f[104:616, 14:526]) for f in sample_rgb]  # 512x512, as the corpus ships
    for i, (name, *_) in enumerate(CSL):
        write_frames(root / "sentence/frames_512x512" / name, square[10 * i : 10 * i + FRAMES])
    return root


@pytest.fixture
def phoenix_root(tmp_path, sample_rgb) -> Path:
    root = tmp_path / "PHOENIX-2014-T"
    manual = root / "annotations/manual"
    manual.mkdir(parents=True)
    small = [np.ascontiguousarray(f[::2, ::2][50:310, 30:240]) for f in sample_rgb]  # 210 wide, 260 high
    for split, rows in PHOENIX.items():
        lines = ["name|video|start|end|speaker|orth|translation"]
        lines += [f"{n}|{n}/1/*.png|-1|-1|{s}|{g}|{t}" for n, s, g, t in rows]
        (manual / f"PHOENIX-2014-T.{split}.corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for i, (name, *_) in enumerate(rows):
            write_frames(root / "features/fullFrame-210x260px" / split / name, small[5 * i : 5 * i + FRAMES],
                         "images{:04d}.png", start=1)  # fmt: skip
    return root


def test_csl_daily_manifest_from_the_corpus_files(csl_root, cli, store_url):
    result = cli("prepare", "csl-daily", csl_root, "--store", store_url)
    assert "4 sentences (train 2, dev 1, test 1); 4 added, 0 updated" in result.output
    store = prep.open_store(store_url)
    assert store.ids == [name for name, *_ in CSL]
    assert store.language == "zh"
    row = store.video("S000001_P0003_T00")
    assert (row["split"], row["translation"], row["gloss"], row["signer"]) == (
        "dev",
        "今天天气很好。",
        "今天 天气 好",
        "3",
    )
    assert {store.video(i)["status"] for i in store.ids} == {"pending"}  # no --extract: nothing extracted
    assert "updated" in cli("prepare", "csl-daily", csl_root, "--store", store_url).output  # a rerun is harmless
    assert prep.store.validate(store) == []


def test_descriptions_are_joined_by_the_corpus_names(csl_root, tmp_path, cli, store_url):
    descriptions = tmp_path / "captions.jsonl"
    rows = [{"id": "S000000_P0000_T00", "description": "一位女士在室内打手语。"}, {"id": "S999999", "description": "x"}]
    descriptions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = cli("prepare", "csl-daily", csl_root, "--store", store_url, "--descriptions", descriptions)
    assert "; 1 with a description" in result.output
    assert "1 description id(s) are not sentences of the corpus (ignored): S999999" in result.output
    store = prep.open_store(store_url)
    assert store.video("S000000_P0000_T00")["description"] == "一位女士在室内打手语。"
    assert store.video("S000003_P0002_T00")["description"] == ""


@pytest.mark.mediapipe
def test_csl_daily_mismatches_are_listed_and_left_out(csl_root, sample_rgb, cli, store_url):
    frames = csl_root / "sentence/frames_512x512"
    os.rename(frames / "S000002_P0001_T00", csl_root / "elsewhere")  # a name in the split file without frames
    write_frames(frames / "S000009_P0009_T00", sample_rgb[:2])  # frames without a label
    (frames / "S000003_P0002_T00").rename(frames / "tmp")
    (frames / "S000003_P0002_T00").mkdir()  # an empty frame folder
    split = csl_root / "sentence_label/split_1.txt"
    split.write_text(split.read_text() + "S000008_P0008_T00|train\n")  # a name with no label

    result = cli("prepare", "csl-daily", csl_root, "--store", store_url, "--extract", "-q", "--workers", "2", expect=3)
    assert (
        "1 labelled sentence(s) have no frame folder (in the manifest, not extracted): S000002_P0001_T00"
        in result.output
    )
    assert "frame folder(s) have no label (left out): S000009_P0009_T00, tmp" in result.output
    assert "1 name(s) of the split file have no label (left out): S000008_P0008_T00" in result.output
    assert "found 3 video(s); extracted 3 (ok 2, no_person 0, failed 1)" in result.output
    assert "S000003_P0002_T00: the folder holds no frames (*.jpg, *.jpeg, *.png)" in result.output
    store = prep.open_store(store_url)
    assert store.ids == [name for name, *_ in CSL]
    status = {i: store.video(i)["status"] for i in store.ids}
    assert status == {"S000000_P0000_T00": "ok", "S000001_P0003_T00": "ok", "S000002_P0001_T00": "pending",
                      "S000003_P0002_T00": "failed"}  # fmt: skip
    row = store.video("S000000_P0000_T00")
    assert (row["n_frames"], row["fps"], row["width"], row["height"]) == (FRAMES, 30.0, 512, 512)
    np.testing.assert_allclose(store.timestamps("S000000_P0000_T00"), np.arange(FRAMES) / 30)
    assert prep.store.validate(store) == []
    again = cli("prepare", "csl-daily", csl_root, "--store", store_url, "--extract", "-q", expect=3)
    assert "nothing to extract: all 3 unchanged" in again.output


def test_a_corrupt_or_hostile_label_pickle_is_refused_before_anything_is_written(csl_root, tmp_path, cli, store_url):
    labels = csl_root / "sentence_label/csl2020ct_v2.pkl"
    labels.write_bytes(pickle.dumps(csl_labels())[:300])
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert f"{labels}: not a readable pickle: it ends early (truncated?)" in output
    assert not Path(store_url).exists()

    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    labels.write_bytes(pickle.dumps({"info": [Hostile()]}))
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert "asks to import posix.system, which mmprep does not load from a data file" in output
    assert not marker.exists() and not Path(store_url).exists()

    labels.write_bytes(pickle.dumps([{"name": "x"}]))
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert "expected a dict whose 'info' is a list of sentences, found list" in output
    broken = csl_labels()
    broken["info"][1]["label_char"] = "今天"  # a string, not a list of characters
    labels.write_bytes(pickle.dumps(broken))
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert "info[1] (S000001_P0003_T00): label_char must be a list of strings" in output


def test_an_unknown_split_name_is_refused_with_its_line(csl_root, cli, store_url):
    split = csl_root / "sentence_label/split_1.txt"
    split.write_text(split.read_text().replace("S000001_P0003_T00|dev", "S000001_P0003_T00|val"))
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert f"{split}:3: split 'val' is not one of train, dev, test" in output
    assert not Path(store_url).exists()
    (csl_root / "sentence_label/split_1.txt").unlink()
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert "split_1.txt: no such file (CSL-Daily's split file); is ROOT the corpus's top folder?" in output


@pytest.mark.mediapipe
def test_phoenix_manifest_and_extraction(phoenix_root, sample_rgb, cli, store_url):
    split_dir = phoenix_root / "features/fullFrame-210x260px/dev"
    name = PHOENIX["dev"][0][0]
    (split_dir / name).rename(split_dir / "moved")
    (split_dir / name).mkdir()
    (split_dir / "moved").rename(split_dir / name / "1")  # frames in <name>/1/, as the video column says
    write_frames(phoenix_root / "features/fullFrame-210x260px/test/unlabelled-1", sample_rgb[:1], "images{:04d}.png")

    result = cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, "--extract", "-q", "--max-frames",
                 "2", "--workers", "2")  # fmt: skip
    assert "4 sentences (train 2, dev 1, test 1); 4 added" in result.output
    assert "1 frame folder(s) have no label (left out): test/unlabelled-1" in result.output
    assert "found 4 video(s); extracted 4 (ok 4" in result.output
    store = prep.open_store(store_url)
    assert store.language == "de"
    row = store.video(PHOENIX["test"][0][0])
    assert (row["split"], row["signer"], row["gloss"]) == ("test", "Signer03", "SCHOEN ABEND WUENSCHEN")
    assert row["translation"] == "jetzt wünsche ich ihnen noch einen schönen abend"
    assert (row["n_frames"], row["fps"], row["width"], row["height"]) == (2, 25.0, 210, 260)
    assert store.video(name)["source"] == str(split_dir / name / "1")
    assert prep.store.validate(store) == []


def test_phoenix_annotation_problems_name_file_and_line(phoenix_root, cli, store_url):
    dev = phoenix_root / "annotations/manual/PHOENIX-2014-T.dev.corpus.csv"
    dev.write_text(dev.read_text() + "broken|row\n", encoding="utf-8")
    output = cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, expect=1).output
    assert f"{dev}:3: expected 7 fields (name|video|start|end|speaker|orth|translation), found 2" in output
    dev.write_text("name|video|translation\nx|x/1/*.png|satz\n", encoding="utf-8")
    output = cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, expect=1).output
    assert "header: missing column(s) speaker, orth. Found: name, video, translation" in output
    dev.unlink()
    output = cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, expect=1).output
    assert "PHOENIX-2014-T.dev.corpus.csv: no such file (PHOENIX-2014T's dev annotations)" in output
    assert not Path(store_url).exists()


def test_the_corpus_files_are_not_manifests_and_say_what_to_use(csl_root, phoenix_root, cli, store_url):
    for path in (
        csl_root / "sentence_label/split_1.txt",
        phoenix_root / "annotations/manual/PHOENIX-2014-T.dev.corpus.csv",
    ):
        output = cli("manifest", path, "--store", store_url, expect=1).output
        assert "header: unknown column(s) name" in output and "mmprep prepare --help" in output


def test_phoenix_frames_outside_root_are_read_only_when_asked(phoenix_root, sample_rgb, tmp_path, cli, store_url):
    name = PHOENIX["dev"][0][0]
    elsewhere = write_frames(tmp_path / "elsewhere" / name, sample_rgb[:2], "images{:04d}.png")
    dev = phoenix_root / "annotations/manual/PHOENIX-2014-T.dev.corpus.csv"
    lines = dev.read_text(encoding="utf-8").splitlines()
    for pattern in (f"{elsewhere}/*.png", f"../../../../elsewhere/{name}/*.png"):  # absolute, or up and out
        dev.write_text(f"{lines[0]}\n{lines[1].replace(f'{name}/1/*.png', pattern)}\n", encoding="utf-8")
        output = cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, expect=1).output
        assert f"{dev}:2: video {pattern!r} is outside ROOT ({phoenix_root}); pass --frames-outside-root" in output
        assert not Path(store_url).exists()
    cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, "--frames-outside-root")
    prepared = RECIPES["phoenix-2014t"].read(phoenix_root, frames_outside_root=True)
    assert {v.id: v.path for v in prepared.videos}[name] == str(elsewhere)
    assert prep.open_store(store_url).video(name)["split"] == "dev"


def test_phoenix_duplicates_and_bad_bytes_are_named_by_line(phoenix_root, csl_root, cli, store_url):
    dev = phoenix_root / "annotations/manual/PHOENIX-2014-T.dev.corpus.csv"
    first_train = (phoenix_root / "annotations/manual/PHOENIX-2014-T.train.corpus.csv").read_text().splitlines()[1]
    dev.write_bytes(dev.read_bytes() + first_train.encode() + b"\n" + "x|x/1/*.png|-1|-1|S|G|schön".encode("latin-1"))
    output = cli("prepare", "phoenix-2014t", phoenix_root, "--store", store_url, expect=1).output
    train_id = PHOENIX["train"][0][0]
    assert f"{dev}:3: {train_id!r} is annotated again (first at PHOENIX-2014-T.train.corpus.csv:2)" in output
    assert f"{dev}:4: not valid UTF-8 (byte 0xf6 at column 26); save the file as UTF-8" in output
    split_file = csl_root / "sentence_label/split_1.txt"
    split_file.write_bytes(split_file.read_bytes() + "S000004_P0000_T00|tr\xe4in\n".encode("latin-1"))
    output = cli("prepare", "csl-daily", csl_root, "--store", store_url, expect=1).output
    assert f"{split_file}:6: not valid UTF-8 (byte 0xe4 at column 21); save the file as UTF-8" in output
