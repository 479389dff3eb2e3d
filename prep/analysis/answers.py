"""The two questions a run's report answers first, from its evaluations: does the model use the description, and
is it worse without it than a model that never saw text?

The second needs a *pose-only* model: the same configuration trained with ``--text-dropout 1.0`` (every
description dropped, so it never sees one), evaluated on the same split. Both are compared on the videos that
have a description, where this model's scenario B (the placeholder) is "the description taken away": the
difference of corpus BLEU-4 with a paired-bootstrap interval over the same videos, as the text effect's A - B.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..bleu import corpus_bleu
from ..errors import InputError
from ..evaluate import default_output, read
from ..evaluate.metrics import paired_bootstrap
from ..evaluate.modes import InferenceMode
from ..train.run_dir import read_config

USES = "Does this model use the description?"
POSE_ONLY = "Without the description, is it worse than a model that never saw text?"
SPLIT_PREFERENCE = ("test", "dev", "train")  # held out first: the best checkpoint was chosen on dev


@dataclass(frozen=True)
class Answer:
    question: str
    verdict: str  # "yes", "no", or why there is no answer ("cannot tell", "not measured")
    text: str  # the figures behind it, in a sentence
    tone: str = "open"  # "good" (what the design wants), "bad", or "open" (no answer yet)
    figures: dict | None = None  # the numbers behind the verdict, where there are some

    def line(self) -> str:
        return f"{self.question} {self.verdict.capitalize()}: {self.text}"


def answer(run_dir: Path, evaluations: list[tuple[Path, dict, list[dict]]], pose_only: Path | None) -> list[Answer]:
    """Both answers, from the run's main evaluation (``main_evaluation``); none without an evaluation."""
    main = main_evaluation(evaluations)
    if main is None:
        return []
    return [uses_description(main[1]), against_pose_only(Path(run_dir), main, pose_only)]


def main_evaluation(evaluations: list[tuple[Path, dict, list[dict]]]) -> tuple[Path, dict, list[dict]] | None:
    """The evaluation the report's answers, gates and examples come from: missing-aware and greedy where there is
    one, on the test split before dev before train."""

    def rank(evaluation) -> tuple:
        report = evaluation[1]
        return report["mode"] != "missing-aware", report["beams"] != 1, SPLIT_PREFERENCE.index(report["split"])

    return min(evaluations, key=rank, default=None)


def uses_description(report: dict) -> Answer:
    """From the evaluation's text effect: yes when A - B's interval lies above 0."""
    effect, split = report["text_effect"], report["split"]
    if effect is None:
        return Answer(USES, "cannot tell", f"no video of the {split} split has a description; evaluate a split "
                      "that has some (`mmprep eval RUN_DIR --split SPLIT`)")  # fmt: skip
    where = f"on the {effect['n']} {split} videos that have one, "
    if effect["ignores_text"]:
        return Answer(USES, "no", where + effect["statement"], "bad")
    low, high = effect["ci"]
    if low > 0:
        return Answer(USES, "yes", where + effect["statement"], "good")
    if high < 0:
        return Answer(USES, "yes, to its cost", where + effect["statement"] + "; it translates worse with it", "bad")
    return Answer(USES, "not shown", where + effect["statement"] + "; the interval of A - B includes 0")


def against_pose_only(run_dir: Path, evaluation: tuple[Path, dict, list[dict]], pose_only: Path | None) -> Answer:
    """This model without the description (scenario B) against the pose-only run's evaluation of the same split,
    mode and beams, on the videos that have a description. Without a pose-only run: what to run to get one."""
    _, report, videos = evaluation
    split = report["split"]
    if pose_only is None:
        return Answer(POSE_ONLY, "not measured", how_to_measure(run_dir, split))
    config = read_config(pose_only)
    if config["text_dropout"] in ("none", "adaptive") or float(config["text_dropout"]) != 1.0:
        raise InputError(
            f"{pose_only} is not a pose-only run: its text dropout is {config['text_dropout']}, not 1.0, so it saw "
            f"descriptions in training. {how_to_measure(run_dir, split)}"
        )
    mode = InferenceMode(report["mode"], report["alpha"], report["factor"])
    path = default_output(pose_only, split, mode, report["beams"])
    if not path.exists():
        return Answer(POSE_ONLY, "not measured", f"{pose_only} has no evaluation of the {split} split like this "
                      f"run's: run `mmprep eval {pose_only} --split {split}`{_decoding(report)} and report again")  # fmt: skip
    theirs = {v["id"]: v for v in read(path)[1]}
    ours = [v for v in videos if v["has_text"]]
    missing = [v["id"] for v in ours if v["id"] not in theirs]
    if missing:
        raise InputError(f"{path} does not hold the videos of this run's evaluation (e.g. {missing[0]!r}): "
                         "evaluate both runs on the same store and split")  # fmt: skip
    if not ours:
        return Answer(POSE_ONLY, "cannot tell", f"no video of the {split} split has a description")
    return _compare(report, ours, [theirs[v["id"]]["hypothesis_without_text"] for v in ours], pose_only)


def _compare(report: dict, ours: list[dict], pose_only_hypotheses: list[str], pose_only: Path) -> Answer:
    references = [v["reference"] for v in ours]
    without = [v["hypothesis_without_text"] for v in ours]
    tokenize = report["sacrebleu"]["tokenize"]
    bleu_b, bleu_p = (corpus_bleu(h, references, tokenize=tokenize) for h in (without, pose_only_hypotheses))
    low, high = paired_bootstrap(without, pose_only_hypotheses, references, report["bootstrap"]["resamples"],
                                 report["bootstrap"]["seed"], tokenize=tokenize)  # fmt: skip
    text = (
        f"on the {len(ours)} {report['split']} videos that have a description, BLEU-4 without it {bleu_b:.2f}, the "
        f"pose-only model ({pose_only}) {bleu_p:.2f} (difference {bleu_b - bleu_p:+.2f}, 95% CI [{low:.2f}, "
        f"{high:.2f}])"
    )
    figures = {"without_text": bleu_b, "pose_only": bleu_p, "ci": [low, high]}
    if high < 0:
        return Answer(POSE_ONLY, "yes", text + ": it leans on the description and loses without it", "bad", figures)
    if low > 0:
        return Answer(POSE_ONLY, "no", text + ": it is better even without the description", "good", figures)
    return Answer(POSE_ONLY, "no", text + ": the interval includes 0, no measurable difference", "good", figures)


def how_to_measure(run_dir: Path, split: str) -> str:
    """The commands that train, evaluate and compare this run's pose-only model."""
    other = f"{run_dir}-pose-only"
    return (
        f"train the same configuration without text (`mmprep train --config {run_dir / 'config.toml'} --out "
        f"{other} --text-dropout 1.0`), evaluate it on the same split (`mmprep eval {other} --split {split}`), "
        f"then `mmprep report {run_dir} --pose-only {other}`"
    )


def _decoding(report: dict) -> str:
    words = "" if report["mode"] == "missing-aware" else f" --mode {report['mode']}"
    words += "".join(f" --{k} {report[k]:g}" for k in ("alpha", "factor") if report[k] is not None)
    return words + (f" --beam {report['beams']}" if report["beams"] > 1 else "")
