"""A synthetic store's answer key, and scoring translations against it.

`mmprep synth` records in the store what it knows about its own answers (``Store.synth``,
store.schema.json#/$defs/synth): the vocabulary, the ambiguous word pairs, the best BLEU a model can reach with
and without the descriptions (the ceilings) and the words each description names. The key is store metadata, so
it is read and scored here, beside the shared vocabulary, where the generator (``prep.synth``, which writes it)
and evaluation (``prep.evaluate``, which scores against it) both reach it without one importing the other.

The ``2 * ambiguous_pairs`` ambiguous words come in pairs with identical signs, and every word is drawn
uniformly, so from the poses alone no model can name the right word of a pair more than half the time: only a
model that reads the description does better. That makes measures whose answer is known:

- the ceilings: the corpus BLEU-4 of the references with every ambiguous word replaced by the best fixed guess
  of its pair (pose only), and with the description (with text). The description names words in random order,
  so it tells which words of a pair a video shows, not where: when a sentence has both words of a pair, their
  arrangement over the pair's sign positions can only be guessed. The with-text ceiling puts the named words
  (and the best guess for the unnamed rest) on those positions in random order, the mean of ``DRAWS`` draws;
  it is 100 only when no sentence needs such a guess;
- the ambiguous-word accuracy of a model's translations: per video and pair, the occurrences of the pair's
  words that the hypothesis gets right, over the larger of the reference's and the hypothesis's count (naming
  both words of a pair to hedge scores 0.5, like a guess);
- the hallucination rate: of the words a description names whose sign the video does not show, the share
  that a translation writes (a word whose sign is not in the video should not be written, whatever the
  description says).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .bleu import corpus_bleu

DRAWS = 20  # random arrangements averaged in the with-text ceiling


@dataclass(frozen=True)
class AnswerKey:
    """The answer key of a synthetic store: its vocabulary ``words``, the ambiguous ``pairs`` and the
    ``language`` (how a text splits into words); as read from a store, also its ``ceilings`` per split
    and the words each video's description names (``named``: video id -> words; None for a store made before
    it was recorded). ``from_metadata`` reads it from a store."""

    words: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    language: str
    ceilings: dict[str, dict] | None = None
    named: dict[str, list[str]] | None = None

    def segment(self, text: str) -> list[str]:
        """The vocabulary words of ``text``: split on spaces (English), or matched longest first (Chinese, written
        without spaces); anything else is skipped."""
        if self.language != "zh":
            return [w for w in text.split() if w in self.words]
        longest = max(map(len, self.words))
        found, i = [], 0
        while i < len(text):
            match = next((text[i : i + n] for n in range(longest, 0, -1) if text[i : i + n] in self.words), None)
            if match:
                found.append(match)
            i += len(match) if match else 1
        return found

    def join(self, words: Sequence[str]) -> str:
        return ("" if self.language == "zh" else " ").join(words)

    def sign(self, word: str) -> str:
        """The sign of ``word``, named by a word: the first word of its pair for both words of a pair."""
        return next((pair[0] for pair in self.pairs if word in pair), word)

    def as_signs(self, text: str) -> str:
        """``text``'s vocabulary words with each word of a pair written as its sign: what the poses can tell."""
        return self.join(self.sign(w) for w in self.segment(text))

    def hallucinations(
        self, hypotheses: Sequence[str], references: Sequence[str], named: Sequence[Sequence[str]]
    ) -> dict:
        """``{"rate", "n"}``: of the words each description names (``named``, one list per video) whose sign its
        video does not show (none of the reference's words has it), the share that the hypothesis writes; ``n``
        counts them (each word once per video); rate is None when there are none."""
        written = total = 0
        for hypothesis, reference, words in zip(hypotheses, references, named, strict=True):
            shown = {self.sign(w) for w in self.segment(reference)}
            absent = {w for w in words if self.sign(w) not in shown}
            total += len(absent)
            written += len(absent & set(self.segment(hypothesis)))
        return {"rate": written / total if total else None, "n": total}

    def ambiguous_accuracy(self, hypotheses: Sequence[str], references: Sequence[str]) -> dict:
        """``{"accuracy", "n"}``: the share of the references' ambiguous-word occurrences the hypotheses get right
        (0.5 is chance); ``n`` counts the occurrences; accuracy is None when there are none."""
        right = total = occurrences = 0
        for hypothesis, reference in zip(hypotheses, references, strict=True):
            said, meant = Counter(self.segment(hypothesis)), Counter(self.segment(reference))
            for pair in self.pairs:
                expected = sum(meant[w] for w in pair)
                if expected:
                    right += sum(min(said[w], meant[w]) for w in pair)
                    total += max(expected, sum(said[w] for w in pair))
                    occurrences += expected
        return {"accuracy": right / total if total else None, "n": occurrences}

    def ceilings_of(self, sentences: Sequence[Sequence[str]], named: Sequence[Sequence[str]]) -> dict:
        """``{"pose_only_bleu4", "with_text_bleu4"}`` for videos whose translations are ``sentences`` (their words)
        and whose descriptions name ``named``; None for no videos."""
        if not sentences:
            return {"pose_only_bleu4": None, "with_text_bleu4": None}
        references = [self.join(s) for s in sentences]
        guess = self._best_guesses(sentences, references)
        pose_only = [self.join(guess.get(w, w) for w in s) for s in sentences]
        rng = np.random.default_rng(0)
        shuffled = any(self._fills(s, known, guess, rng)[1] for s, known in zip(sentences, named, strict=True))
        draws = [
            corpus_bleu([self._fills(s, known, guess, rng)[0] for s, known in zip(sentences, named, strict=True)], references)
            for _ in range(DRAWS if shuffled else 1)
        ]  # fmt: skip
        return {"pose_only_bleu4": corpus_bleu(pose_only, references), "with_text_bleu4": float(np.mean(draws))}

    def _fills(self, sentence: Sequence[str], named: Sequence[str], guess: dict[str, str], rng) -> tuple[str, bool]:
        """(what a model that reads the description can say, whether it had to guess an order): per pair, the
        named occurrences of its words and the best guess for the others, in random order over the positions of
        the pair's sign."""
        words, shuffled = list(sentence), False
        for pair in self.pairs:
            positions = [i for i, w in enumerate(words) if w in pair]
            known = [w for w in named if w in pair][: len(positions)]
            fill = known + [guess[pair[0]]] * (len(positions) - len(known))
            if len(set(fill)) > 1:
                fill, shuffled = [str(w) for w in rng.permutation(fill)], True
            for i, w in zip(positions, fill, strict=True):
                words[i] = w
        return self.join(words), shuffled

    def _best_guesses(self, sentences: Sequence[Sequence[str]], references: list[str]) -> dict[str, str]:
        """word -> what a model that sees only its sign says: for each pair, the one of its words that gives the
        higher corpus BLEU-4 (chosen pair by pair, the others fixed)."""
        guess: dict[str, str] = {}
        for a, b in self.pairs:
            scores = {}
            for choice in (a, b):
                trial = {**guess, a: choice, b: choice}
                scores[choice] = corpus_bleu([self.join(trial.get(w, w) for w in s) for s in sentences], references)
            best = max(scores, key=scores.get)
            guess.update({a: best, b: best})
        return guess


def from_metadata(info: dict | None) -> AnswerKey | None:
    """The answer key in a store's metadata (``Store.synth``, store.schema.json#/$defs/synth), None where the store
    has none (any store that `mmprep synth` did not write)."""
    if info is None:
        return None
    pairs = tuple(tuple(p) for p in info["ambiguous_pairs"])
    return AnswerKey(
        tuple(info["words"]), pairs, info["config"]["language"], info["ceilings"], info.get("descriptions")
    )
