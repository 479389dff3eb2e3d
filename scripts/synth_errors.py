"""Where a model's errors on a synthetic store come from: the poses, the description, or the decoder.

    python scripts/synth_errors.py RUN_DIR/eval/test-missing-aware.json [--store STORE.zarr] [--gloss-head]

For every with-text video of the report and every ambiguous pair its reference uses, one of three outcomes,
with the description (A) and without (B):

    count wrong            the translation has more or fewer words of the pair than the reference: a sign
                           dropped or doubled, which the poses decide (the description names words, not counts)
    right count, right     the right words of the pair
    right count, wrong     the right number of the pair's words, but the wrong ones: the description (A)
                           names them, so this is a failure to read it; without it (B), a guess (0.5 is chance)

Then the signs a reference has more than once (a pair's two words are one sign), back to back or apart, and
how often the translation has fewer of them. With --gloss-head, the same count for the run's CTC head on the
pose features (greedy: the best gloss per step, repeats merged, blanks dropped): where the head counts a sign
right and the translation does not, the pose features held the count and the decoder lost it.

The accuracy of `mmprep eval` (prep/answer_key.py) mixes the causes; this splits them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from itertools import pairwise

import torch

from prep.answer_key import AnswerKey, from_metadata
from prep.data.dataset import collate
from prep.evaluate import read
from prep.evaluate.loading import load_run
from prep.store import open_store


def outcomes(truth: AnswerKey, videos: list[dict], key: str) -> dict:
    count_wrong = right = wrong = 0
    for video in videos:
        said, meant = Counter(truth.segment(video[key])), Counter(truth.segment(video["reference"]))
        for pair in truth.pairs:
            expected = sum(meant[w] for w in pair)
            if not expected:
                continue
            if sum(said[w] for w in pair) != expected:
                count_wrong += 1
            elif all(said[w] == meant[w] for w in pair):
                right += 1
            else:
                wrong += 1
    return {
        "pair_occurrences": count_wrong + right + wrong,
        "count_wrong": count_wrong,
        "right_count_right_words": right,
        "right_count_wrong_words": wrong,
        "words_right_given_the_count": right / (right + wrong) if right + wrong else None,
    }


def signs(truth: AnswerKey, words: list[str]) -> list[str]:
    """The signs of ``words``: a pair's two words are the same sign."""
    return [truth.sign(word) for word in words]


def repeated_signs(references: list[list[str]], outputs: list[list[str]]) -> dict:
    """Over the signs each reference has more than once: how many, and how often the output has fewer."""
    counts = Counter()
    for reference, output in zip(references, outputs, strict=True):
        meant, said = Counter(reference), Counter(output)
        for sign, n in meant.items():
            if n < 2:
                continue
            where = [i for i, s in enumerate(reference) if s == sign]
            kind = "back_to_back" if any(b - a == 1 for a, b in pairwise(where)) else "apart"
            counts[kind] += 1
            counts[f"{kind}_fewer"] += said[sign] < n
    return {kind: f"{counts[f'{kind}_fewer']} of {counts[kind]} said fewer times" for kind in ("back_to_back", "apart")}


@torch.no_grad()
def gloss_head_signs(report: dict, truth: AnswerKey, ids: set[str]) -> dict[str, list[str]]:
    """The signs the run's CTC head reads off the poses of videos ``ids`` (greedy decoding)."""
    run = load_run(report["run"], report["checkpoint"], store_url=report["store"], device="cpu")
    if run.model.gloss_head is None:
        raise SystemExit(f"{report['run']} has no gloss head (it was trained with --ctc-weight 0)")
    data = run.dataset(report["split"])
    glosses = (None, *run.model.config.glosses)  # 0 is the CTC blank
    found = {}
    rows = [i for i, video_id in enumerate(data.ids) if video_id in ids]
    for start in range(0, len(rows), 32):
        batch = collate([data[i] for i in rows[start : start + 32]])
        pose, mask = run.model.pose_encoder(batch["keypoints"], batch["conf"], batch["mask"])
        best = run.model.gloss_head(pose).argmax(-1)
        for b, video_id in enumerate(batch["ids"]):
            steps = best[b][mask[b] > 0].tolist()
            said = [glosses[g] for i, g in enumerate(steps) if g and (i == 0 or steps[i - 1] != g)]
            found[video_id] = signs(truth, said)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="an evaluation report of `mmprep eval` on a synthetic store")
    parser.add_argument("--store", help="the synthetic store the run was evaluated on (default: the report's)")
    parser.add_argument("--gloss-head", action="store_true", help="also count the repeats with the run's CTC head")
    args = parser.parse_args()
    report, videos = read(args.report)
    store = args.store or report["store"]
    truth = from_metadata(open_store(store).synth)
    if truth is None:
        parser.error(f"{store} is not a synthetic store (it has no answer key): use one written by mmprep synth")
    videos = [video for video in videos if video["has_text"]]
    references = [signs(truth, truth.segment(video["reference"])) for video in videos]
    scenarios = {"A (with the description)": "hypothesis", "B (without)": "hypothesis_without_text"}
    result = {name: outcomes(truth, videos, key) for name, key in scenarios.items()}
    result["repeated signs"] = {
        name: repeated_signs(references, [signs(truth, truth.segment(video[key])) for video in videos])
        for name, key in scenarios.items()
    }
    if args.gloss_head:
        found = gloss_head_signs({**report, "store": store}, truth, {video["id"] for video in videos})
        result["repeated signs"]["the CTC head"] = repeated_signs(references, [found[v["id"]] for v in videos])
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
