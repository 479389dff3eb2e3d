"""`mmprep report`: a valid HTML page whose images exist, from a real run and its evaluations (no browser needed;
scripts/check_report.py takes a headless Chromium screenshot)."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image

from prep.analysis.answers import POSE_ONLY, USES
from prep.analysis.report import read_evaluations
from prep.model.fusion import with_current_names
from prep.train.run_dir import read_metrics

VOID = {"meta", "img", "br", "hr", "link", "input"}


class PageParser(HTMLParser):
    """Checks that every element is closed in order, and collects the images and the text."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl):
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            attributes = dict(attrs)
            self.images.append(attributes["src"])
            if not attributes.get("alt"):
                self.problems.append(f"an image without alt text: {attributes['src']}")
        elif tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
        else:
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: Path) -> PageParser:
    parser = PageParser()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    assert parser.doctype and not parser.problems and not parser.open, (parser.problems, parser.open)
    return parser


def test_report_is_a_valid_page_whose_images_exist(trained_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval", "report"))
    before = parse(Path(cli("report", run).output.split()[1]))
    assert "No evaluation yet" in "".join(before.text) and "consistency.png" not in before.images

    cli("eval", run, "--max-videos", "7", "-q")  # the first 7 dev videos: 2 with a description, so C too
    cli("eval", run, "--mode", "ensemble", "--max-videos", "6", "-q")
    output = cli("report", run, "--out", tmp_path / "page").output
    page = tmp_path / "page" / "report.html"
    assert str(page) in output
    parsed = parse(page)
    text = " ".join(parsed.text)
    for heading in ("Training", "Missing-text machinery", "Evaluation and consistency", "Example translations"):
        assert heading in text, heading
    for metric in ("delta BLEU-4 (A - B)", "KL(P_A || P_B) per token", "std of confidence A - B"):
        assert metric in text
    assert "dev missing-aware" in text and "dev ensemble" in text
    assert "how far it moved from its start" in text  # the mask's movement, not a flat cosine
    assert sorted(parsed.images) == [
        "consistency.png",
        "mask.png",
        "text_dropout.png",
        "text_weight.png",
        "training.png",
    ]
    for name in parsed.images:
        image = tmp_path / "page" / name
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width = matplotlib.image.imread(image).shape[:2]
        assert width >= 800 and height >= 250
    # the examples are the with-text videos, each with its reference, A and B
    assert "synth" in text and "(with its description)" in text
    # scenario C beside A and B, and what the synthetic store's answer key says of it
    assert "Scenario C" in text and "C (another's)" in text and "hallucination rate" in text


def rewrite_jsonl(path: Path, change) -> None:
    lines = [json.dumps(change(json.loads(line))) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_run_from_before_the_text_weight_was_named_for_its_fusion_reads_as_today(trained_run, tmp_path, cli):
    """metrics.jsonl and eval predictions that call the gated fusion's opening ``gate`` (and a report that does
    not name its fusion) read as a run written today, through one mapping, and the report shows them."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval", "report"))
    cli("eval", run, "--max-videos", "3", "-q")
    today = read_metrics(run), [(p.name, r, v) for p, r, v in read_evaluations(run)]
    assert "gate_opening_with_text" in today[0][0][0] and "gate_opening" in today[1][0][2][0]

    def old(record: dict) -> dict:
        return {re.sub(r"^gate_opening", "gate", key): value for key, value in record.items()}

    rewrite_jsonl(run / "metrics.jsonl", old)
    (report_path,) = (run / "eval").glob("*.json")
    rewrite_jsonl(report_path.with_name(report_path.stem + ".predictions.jsonl"), old)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    del report["fusion"]
    report_path.write_text(json.dumps(report), encoding="utf-8")
    assert "gate_with_text" in (run / "metrics.jsonl").read_text()  # the old names, on disk
    assert read_metrics(run) == today[0]
    assert [(p.name, {**r, "fusion": "gate"}, v) for p, r, v in read_evaluations(run)] == today[1]
    cli("report", run, "--out", tmp_path / "page")
    assert "the gate's mean opening" in " ".join(parse(tmp_path / "page" / "report.html").text)
    # the mapping is by the run's fusion: the same old name is the text step's norm share under token fusion
    assert with_current_names({"gate": 0.2, "gate_without_text": 0.1, "loss": 1.0}, "token") == {
        "text_norm_share": 0.2,
        "text_norm_share_without_text": 0.1,
        "loss": 1.0,
    }


def test_report_names_a_broken_metrics_line(trained_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval", "report"))
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"step": 99, "loss": \n')
    lines = (run / "metrics.jsonl").read_text().count("\n")
    assert f"metrics.jsonl:{lines}: not a JSON object" in cli("report", run, expect=1).output
    assert "is not a run directory" in cli("report", tmp_path, expect=1).output


def test_the_page_opens_with_the_two_answers_and_says_how_to_get_the_second(trained_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval", "report"))
    cli("eval", run, "--max-videos", "6", "--bootstrap", "50", "-q")
    printed = cli("report", run).output
    questions = [line for line in printed.splitlines() if line.endswith("?") or "? " in line]
    assert [q.split("?")[0] + "?" for q in questions] == [USES, POSE_ONLY]
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    body = page[page.index("<body>") :]
    # The questions come first, before the run's settings and its curves.
    assert body.index(USES) < body.index(POSE_ONLY) < body.index("<table>") < body.index("training.png")
    assert "Not measured" in body and "never saw text" in body
    # The commands it names do it: train the pose-only model, evaluate it, report again.
    commands = re.findall(r"`mmprep ([^`]+)`", questions[1])
    assert [c.split()[0] for c in commands] == ["train", "eval", "report"]
    train_words = commands[0].split()
    assert "--text-dropout" in train_words and train_words[train_words.index("--text-dropout") + 1] == "1.0"
    cli(*train_words, "-q")
    pose_only = Path(train_words[train_words.index("--out") + 1])
    cli("eval", pose_only, "--max-videos", "6", "--bootstrap", "50", "-q")
    answered = cli(*commands[2].split()).output
    assert "pose-only model" in answered and "difference" in answered and "Not measured" not in answered
    assert f"the pose-only model ({pose_only})" in (run / "report" / "report.html").read_text(encoding="utf-8")


def test_a_run_that_saw_text_is_refused_as_the_pose_only_model(trained_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval", "report"))
    cli("eval", run, "--max-videos", "6", "--bootstrap", "50", "-q")
    out = cli("report", run, "--pose-only", trained_run, expect=1).output
    assert "is not a pose-only run: its text dropout is 0.3" in out and "--text-dropout 1.0" in out


def test_a_delta_bleu_interval_that_leaves_out_its_estimate_is_drawn(tmp_path):
    """A bootstrap of few resamples can give a percentile interval beside the estimate; the plot used to fail
    ("'xerr' must not contain negative values")."""
    from prep.analysis.figures import plot_consistency
    from prep.evaluate.summary import METRIC_NAMES

    consistency = {name: {"value": 0.5, "pass": True, "ci": [0.1, 0.9]} for name in METRIC_NAMES}
    consistency["delta_bleu"] = {"value": 3.0, "pass": False, "ci": [3.5, 6.0]}  # the estimate below its interval
    report = {"split": "dev", "mode": "missing-aware", "alpha": None, "factor": None, "beams": 1,
              "consistency": consistency, "with_text": None}  # fmt: skip
    name = plot_consistency([(tmp_path / "r.json", report, [])], tmp_path)
    assert (tmp_path / name).stat().st_size > 0
