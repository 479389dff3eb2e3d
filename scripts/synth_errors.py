"""Where a model's ambiguous-word errors on a synthetic store come from: the poses or the description.

    python scripts/synth_errors.py RUN_DIR/eval/test-missing-aware.json --store STORE.zarr

For every with-text video of the report and every ambiguous pair its reference uses, one of three outcomes,
with the description (A) and without (B):

    count wrong            the translation has more or fewer words of the pair than the reference: a sign
                           dropped or doubled, which the poses decide (the description names words, not counts)
    right count, right     the right words of the pair
    right count, wrong     the right number of the pair's words, but the wrong ones: the description (A)
                           names them, so this is a failure to read it; without it (B), a guess (0.5 is chance)

The accuracy of `mmprep eval` (prep/synth/truth.py) mixes the two causes; this splits them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from prep.evaluate import read
from prep.store import open_store
from prep.synth.truth import SynthTruth


def outcomes(truth: SynthTruth, videos: list[dict], key: str) -> dict:
    count_wrong = right = wrong = 0
    for video in videos:
        if not video["has_text"]:
            continue
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="an evaluation report of `mmprep eval` on a synthetic store")
    parser.add_argument("--store", required=True, help="the synthetic store the run was trained on")
    args = parser.parse_args()
    synth = open_store(args.store).synth
    if synth is None:
        parser.error(f"{args.store} is not a synthetic store (it has no answer key): use one written by mmprep synth")
    truth = SynthTruth.of(synth)
    _, videos = read(args.report)
    scenarios = {"A (with the description)": "hypothesis", "B (without)": "hypothesis_without_text"}
    print(json.dumps({name: outcomes(truth, videos, key) for name, key in scenarios.items()}, indent=2))


if __name__ == "__main__":
    main()
