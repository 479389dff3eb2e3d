"""``mmprep synth``: a store of synthetic signing whose ground truth is known, to test missing-text methods.

The generator (docs/data.md documents it for users):

- vocabulary: ``vocab`` words of the chosen language; each word is a sign, a smooth path of the wrists through
  3-4 points of the signing space over 8-16 frames, with a handshape at its start and end and a hand
  rotation (one- or two-handed; see ``motion.make_prototypes``). The first ``2 * ambiguous_pairs`` words
  come in pairs that share one sign: their poses are identical, only a description can tell them apart;
- sentence: 2-6 words drawn uniformly; the translation is the words in order (joined without spaces in
  Chinese, with spaces in English), the gloss the same words separated by spaces;
- video: rest (hands below the frame), then each sign with a movement into it and an optional hold, then
  rest; each occurrence varies in speed (x0.8-1.25), size (x0.85-1.15) and position (0.08 shoulder widths),
  the signer's tempo (x0.7-1.5), body position and size vary per video, and every point gets noise.
  Hands are missing (0, confidence 0) outside the frame and in random short runs (4 % of frames start one);
  50-300 frames at 25 fps (or a length drawn uniformly from ``frames``), 512 x 512;
- splits: ``splits`` shares of the videos, at random;
- descriptions: exactly ``round(text_ratio * n)`` videos of each split have one (one share for all splits, or
  one per split). It names each word of the translation with probability ``text_info`` (in random order),
  beside a sentence about the scene that carries no information. ``text_info=0``: descriptions are useless;
  1: they name every word. As people write them: ``text_errors`` replaces a named word of an ambiguous pair
  by its partner (the wrong word, same sign); ``text_distractors`` adds words whose sign the video does not
  show; ``text_style="sentence"`` puts the named words in running text (``TEMPLATES``) instead of a list.
  The answer key records every description's named words, so what a description says is known exactly.

Every random choice comes from a generator seeded by (seed, video, purpose), so a video's poses do not depend
on the other videos, on its words beyond their signs, or on the order of generation: the same seed gives
the same store, and an interrupted run continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from .. import schemas
from ..answer_key import AnswerKey
from ..errors import InputError, StoreError
from ..layout import holistic
from ..store import VideoResult, open_store
from . import motion
from .words import LANGUAGES

GENERATOR_VERSION = 1
# What a random generator is for. Each new option draws from its own, so stores made without it stay the same.
VOCABULARY, SPLITS, TEXT, SENTENCE, DESCRIPTION, MOTION, ERRORS, DISTRACTORS, STYLE, LENGTH = range(10)
SPLIT_NAMES = schemas.enum("common", "$defs", "split")  # train, dev, test
MIN_FRAMES, MAX_FRAMES = 50, 300
COMMIT_EVERY = 100  # videos per commit
SCENES = {
    "zh": (
        "一位手语者面对镜头",
        "手语者站在浅色背景前",
        "室内拍摄，光线均匀",
        "手语者穿着深色上衣",
        "画面中只有一位手语者",
    ),
    "en": (
        "A signer faces the camera",
        "The signer stands in front of a plain background",
        "Filmed indoors in even light",
        "The signer wears a dark top",
        "One signer is in the picture",
    ),
}


# Running text (text_style="sentence"): each puts a list of named words ({}) in a sentence. Their other words are
# no word of the language's vocabulary (tests/synth checks), so a description names exactly its answer key.
TEMPLATES = {
    "zh": (
        "手语者先后比划了{}",
        "这段视频讲到{}",
        "画面里出现了{}的手势",
        "手语者提到了{}",
        "这里打出的手语包括{}",
        "内容涉及{}",
    ),
    "en": (
        "The signer talks about {}",
        "In this clip the signer mentions {}",
        "Signed here: {}",
        "The video shows the signs for {}",
        "It is about {}",
        "This part covers {}",
    ),
}
TEXT_STYLES = ("list", "sentence")
# The description options that came later; at these values a store is what it was before them (the same
# descriptions, the same fingerprint).
TEXT_DEFAULTS = {"text_distractors": 0, "text_style": "list", "text_errors": 0.0}


@dataclass(frozen=True)
class SynthConfig:
    videos: int = 2000
    text_ratio: float | tuple[float, float, float] = 0.2  # one share for every split, or (train, dev, test)
    text_info: float = 0.5
    text_distractors: int = 0
    text_style: str = "list"
    text_errors: float = 0.0
    vocab: int = 100
    ambiguous_pairs: int = 10
    language: str = "zh"
    seed: int = 0
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    width: int = 512
    height: int = 512
    fps: float = 25.0
    frames: tuple[int, int] | None = None  # (min, max): each video's length drawn uniformly; None: the signs' own

    def __post_init__(self):
        problems = []
        if self.frames is not None and not (len(self.frames) == 2 and 1 <= self.frames[0] <= self.frames[1]):
            problems.append(f"frames must be two lengths, the shorter first, not {self.frames}")
        if self.videos < 1:
            problems.append(f"videos must be at least 1, not {self.videos}")
        if isinstance(self.text_ratio, tuple | list) and len(self.text_ratio) != 3:
            problems.append(f"text_ratio must be one share or three (train, dev, test), not {self.text_ratio}")
        elif not all(0 <= r <= 1 for r in self.text_ratios):
            problems.append(f"text_ratio must be in [0, 1], not {self.text_ratio}")
        for name in ("text_info", "text_errors"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.text_distractors < 0:
            problems.append(f"text_distractors must be at least 0, not {self.text_distractors}")
        if self.text_style not in TEXT_STYLES:
            problems.append(f"text_style must be one of {', '.join(TEXT_STYLES)}, not {self.text_style!r}")
        if self.language not in LANGUAGES:
            problems.append(f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        elif not 2 <= self.vocab <= len(LANGUAGES[self.language]):
            problems.append(f"vocab must be in [2, {len(LANGUAGES[self.language])}], not {self.vocab}")
        if not 0 <= 2 * self.ambiguous_pairs <= self.vocab:
            problems.append(f"ambiguous_pairs must be in [0, vocab / 2], not {self.ambiguous_pairs}")
        if len(self.splits) != 3 or min(self.splits) < 0 or abs(sum(self.splits) - 1) > 1e-6:
            problems.append(f"splits must be three shares (train, dev, test) that sum to 1, not {self.splits}")
        if self.seed < 0:
            problems.append(f"seed must be a non-negative integer, not {self.seed}")
        if problems:
            raise InputError("; ".join(problems))

    @property
    def text_ratios(self) -> tuple[float, float, float]:
        """The share of described videos in train, dev and test."""
        ratio = self.text_ratio
        return tuple(float(r) for r in ratio) if isinstance(ratio, tuple | list) else (float(ratio),) * 3

    @property
    def fingerprint(self) -> str:
        """Names the generator and its settings: videos made by another configuration are not reused."""
        # the options added later are left out at their defaults: a store made before them keeps its fingerprint
        unchanged = {**TEXT_DEFAULTS, "frames": None}
        settings = {k: v for k, v in asdict(self).items() if k not in unchanged or unchanged[k] != v}
        text = json.dumps({"generator": GENERATOR_VERSION, **settings}, sort_keys=True)
        return "synth-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _rng(config: SynthConfig, purpose: int, video: int = 0) -> np.random.Generator:
    return np.random.default_rng([config.seed, purpose, video])


@dataclass(frozen=True)
class Vocabulary:
    words: list[str]
    sign_of_word: np.ndarray  # [vocab] -> index into signs
    signs: list[motion.Prototype]

    def ambiguous(self, word: int) -> int | None:
        """The word that looks the same as ``word``, if any."""
        same = np.flatnonzero(self.sign_of_word == self.sign_of_word[word])
        return next((int(w) for w in same if w != word), None)


def vocabulary(config: SynthConfig) -> Vocabulary:
    rng = _rng(config, VOCABULARY)
    pool = LANGUAGES[config.language]
    words = [pool[i] for i in rng.choice(len(pool), config.vocab, replace=False)]
    pairs = config.ambiguous_pairs
    sign_of_word = np.concatenate([np.arange(2 * pairs) // 2, np.arange(pairs, config.vocab - pairs)])
    return Vocabulary(words, sign_of_word, motion.make_prototypes(config.vocab - pairs, rng))


def sentence(config: SynthConfig, video: int) -> np.ndarray:
    """The video's words (indices into the vocabulary)."""
    rng = _rng(config, SENTENCE, video)
    return rng.integers(config.vocab, size=int(rng.integers(2, 7)))


@dataclass(frozen=True)
class Description:
    text: str
    named: list[str]  # every word it names, in its order: signed ones, wrong pair words, distractors


def describe(config: SynthConfig, video: int, words: list[str], vocab: Vocabulary) -> Description:
    """The description of a video signing ``words``: each named with probability ``text_info``, in random order,
    a named pair word swapped for its partner with probability ``text_errors``, and ``text_distractors`` words
    whose sign the video does not show put among them; as a list after a sentence about the scene, or in
    running text (``text_style``)."""
    rng = _rng(config, DESCRIPTION, video)
    scene = SCENES[config.language][int(rng.integers(len(SCENES[config.language])))]
    named = [w for w in words if rng.random() < config.text_info]
    named = [named[i] for i in rng.permutation(len(named))]
    named = _with_distractors(config, video, words, _with_errors(config, video, named, vocab), vocab)
    if config.text_style == "sentence":
        return Description(_running_text(config, video, scene, named), named)
    if config.language == "zh":
        return Description(f"{scene}。" + (f"视频里打出的词有：{'、'.join(named)}。" if named else ""), named)
    return Description(f"{scene}." + (f" The signs include: {', '.join(named)}." if named else ""), named)


def _with_errors(config: SynthConfig, video: int, named: list[str], vocab: Vocabulary) -> list[str]:
    """``named`` with each word of an ambiguous pair replaced by its partner with probability ``text_errors``."""
    if not config.text_errors:
        return named
    rng, out = _rng(config, ERRORS, video), []
    for word in named:
        partner = vocab.ambiguous(vocab.words.index(word))
        out.append(vocab.words[partner] if partner is not None and rng.random() < config.text_errors else word)
    return out


def _with_distractors(
    config: SynthConfig, video: int, words: list[str], named: list[str], vocab: Vocabulary
) -> list[str]:
    """``named`` with ``text_distractors`` words (as many as there are) whose sign the video does not show, each
    at a random place: a word of a pair only when neither of the pair is signed."""
    if not config.text_distractors:
        return named
    rng = _rng(config, DISTRACTORS, video)
    shown = {vocab.sign_of_word[vocab.words.index(w)] for w in words}
    candidates = [w for i, w in enumerate(vocab.words) if vocab.sign_of_word[i] not in shown]
    out = list(named)
    for i in rng.choice(len(candidates), min(config.text_distractors, len(candidates)), replace=False):
        out.insert(int(rng.integers(len(out) + 1)), candidates[i])
    return out


def _running_text(config: SynthConfig, video: int, scene: str, named: list[str]) -> str:
    """The named words, in their order, in one or two sentences of ``TEMPLATES``, the scene before or after."""
    rng, zh = _rng(config, STYLE, video), config.language == "zh"
    end, comma, both = ("。", "、", "和") if zh else (".", ", ", " and ")
    chunks = [named]
    if len(named) > 1 and rng.random() < 0.5:
        cut = int(rng.integers(1, len(named)))
        chunks = [named[:cut], named[cut:]]
    templates = rng.choice(len(TEMPLATES[config.language]), len(chunks), replace=False)
    sentences = [
        TEMPLATES[config.language][t].format(chunk[0] if len(chunk) == 1 else comma.join(chunk[:-1]) + both + chunk[-1])
        for t, chunk in zip(templates, chunks, strict=True)
    ] if named else []  # fmt: skip
    sentences.insert(len(sentences) if rng.random() < 0.5 else 0, scene)
    return ("" if zh else " ").join(s + end for s in sentences)


def translate(config: SynthConfig, words: list[str]) -> str:
    return ("" if config.language == "zh" else " ").join(words)


def plan(config: SynthConfig, vocab: Vocabulary | None = None) -> list[dict]:
    """The table rows: id, split, translation, gloss, signer, description ('' for videos without text)."""
    vocab = vocab or vocabulary(config)
    order = _rng(config, SPLITS).permutation(config.videos)
    bounds = np.round(np.cumsum(config.splits) * config.videos).astype(int)
    split = np.empty(config.videos, dtype=object)
    for name, part in zip(SPLIT_NAMES, np.split(order, bounds[:2]), strict=True):
        split[part] = name
    text_rng = _rng(config, TEXT)
    has_text = np.zeros(config.videos, dtype=bool)
    for name, ratio in zip(SPLIT_NAMES, config.text_ratios, strict=True):
        members = np.flatnonzero(split == name)
        has_text[text_rng.choice(members, round(ratio * members.size), replace=False)] = True
    rows = []
    for i in range(config.videos):
        words = [vocab.words[w] for w in sentence(config, i)]
        rows.append({
            "id": f"synth{i:06d}", "split": split[i], "translation": translate(config, words),
            "gloss": " ".join(words), "signer": "synth",
            "description": describe(config, i, words, vocab).text if has_text[i] else "",
        })  # fmt: skip
    return rows


def video_pose(config: SynthConfig, video: int, words: np.ndarray, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(xyz, conf) of the video signing ``words``: a function of their signs, the seed and the video number."""
    rng = _rng(config, MOTION, video)
    tempo = rng.uniform(0.7, 1.5)
    rests = rng.integers(6, 31, size=2)
    signs = []
    for sign in vocab.sign_of_word[words]:
        track = motion.sign_track(vocab.signs[sign], rng, tempo)
        hold = motion.Track.hold(*track.last(), int(rng.integers(0, 5)))
        signs.append((max(2, round(rng.integers(3, 9) * tempo)), track, hold))
    middle = sum(move + len(track.wrist) + len(hold.wrist) for move, track, hold in signs) + max(2, round(6 * tempo))
    # Rests make up the length: at least MIN_FRAMES in all, at most MAX_FRAMES (shortened to 1 frame each); with
    # ``frames``, a length drawn from its own generator (the motion's draws stay those of the default).
    low, high = config.frames or (MIN_FRAMES, MAX_FRAMES)
    natural = _rng(config, LENGTH, video).integers(low, high + 1) if config.frames else middle + rests.sum()
    total = int(np.clip(natural, low, high))
    extra = total - middle - rests.sum()
    rests = np.maximum(rests + np.array([extra // 2, extra - extra // 2]), 1)
    pieces = [motion.rest_track(int(rests[0]))]
    for move, track, hold in signs:
        pieces += [motion.transition(_joined(pieces), track, move), track, hold]
    end = motion.rest_track(int(rests[1]))
    pieces += [motion.transition(_joined(pieces), end, max(2, round(6 * tempo))), end]
    whole = _joined(pieces)
    return motion.render(whole, rng, config.width, config.height)


def _joined(pieces: list[motion.Track]) -> motion.Track:
    return motion.Track(*(np.concatenate([getattr(p, f) for p in pieces]) for f in ("wrist", "flex", "turn")))


def make_video(config: SynthConfig, video: int, vocab: Vocabulary) -> VideoResult:
    xyz, conf = video_pose(config, video, sentence(config, video), vocab)
    n = len(xyz)
    return VideoResult(
        id=f"synth{video:06d}", status="ok", n_frames=n, fps=config.fps, width=config.width, height=config.height,
        source=f"synth:seed={config.seed}/{video}", fingerprint=config.fingerprint,
        xyz=xyz, conf=conf, time=np.arange(n) / config.fps,
    )  # fmt: skip


def answer_key(config: SynthConfig, vocab: Vocabulary, rows: list[dict]) -> dict:
    """What the store records about its own answers (store.schema.json#/$defs/synth): ceilings per split, and
    the words each description names, signed or not."""
    pairs = [[vocab.words[w], vocab.words[vocab.ambiguous(w)]] for w in range(0, 2 * config.ambiguous_pairs, 2)]
    key = AnswerKey(tuple(vocab.words), tuple(map(tuple, pairs)), config.language)
    described = [i for i, row in enumerate(rows) if row["description"]]
    sentences = {i: [vocab.words[w] for w in sentence(config, i)] for i in described}
    named = {i: describe(config, i, sentences[i], vocab).named for i in described}
    ceilings = {}
    for name in SPLIT_NAMES:
        videos = [i for i in described if rows[i]["split"] == name]
        ceilings[name] = {
            "n_with_text": len(videos),
            **key.ceilings_of([sentences[i] for i in videos], [named[i] for i in videos]),
        }
    return {
        "generator": GENERATOR_VERSION,
        "config": asdict(config),
        "words": list(vocab.words),
        "ambiguous_pairs": pairs,
        "ceilings": ceilings,
        "descriptions": {rows[i]["id"]: named[i] for i in described},
    }


def write_synth(url: str, config: SynthConfig, progress: Callable[[int], None] | None = None) -> dict:
    """Create (or finish) the synth store at ``url``. Returns counts: videos, made, kept, frames."""
    vocab = vocabulary(config)
    rows = plan(config, vocab)
    with open_store(url, mode="a") as store:
        ours = {row["id"] for row in rows}
        status, fingerprint = store.column("status"), store.column("fingerprint")
        foreign = [vid for i, vid in enumerate(store.ids) if vid not in ours or (status[i] == "ok" and fingerprint[i] != config.fingerprint)]  # fmt: skip
        if foreign:
            raise StoreError(
                f"{url} already holds videos that are not from this synth configuration (e.g. {foreign[0]!r}); "
                "choose another path, or delete it to start again"
            )
        store.upsert_rows(rows)
        store.set_layout(holistic())
        status, fingerprint = store.column("status"), store.column("fingerprint")
        done = {i for i, vid in enumerate(store.ids) if status[i] == "ok" and fingerprint[i] == config.fingerprint}
        todo = [i for i in range(config.videos) if store.row(rows[i]["id"]) not in done]
        for start in range(0, len(todo), COMMIT_EVERY):
            batch = [make_video(config, i, vocab) for i in todo[start : start + COMMIT_EVERY]]
            store.commit_videos(batch)
            if progress:
                progress(len(batch))
        store.set_synth(answer_key(config, vocab, rows))
        frames = int(store.column("n_frames")[store.column("status") == "ok"].sum())
    return {"videos": config.videos, "made": len(todo), "kept": config.videos - len(todo), "frames": frames}
