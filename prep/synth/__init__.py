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
- descriptions: exactly ``round(text_ratio * n)`` videos of each split have one. It names each word of the
  translation with probability ``text_info`` (in random order), after a sentence about the scene that
  carries no information. ``text_info=0``: descriptions are useless; 1: they name every word.

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
from ..errors import InputError, StoreError
from ..layout import holistic
from ..store import VideoResult, open_store
from . import motion
from .truth import SynthTruth
from .words import LANGUAGES

GENERATOR_VERSION = 1
VOCABULARY, SPLITS, TEXT, SENTENCE, DESCRIPTION, MOTION, LENGTH = range(7)  # what a random generator is for
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


@dataclass(frozen=True)
class SynthConfig:
    videos: int = 2000
    text_ratio: float = 0.2
    text_info: float = 0.5
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
        for name in ("text_ratio", "text_info"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], not {getattr(self, name)}")
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
    def fingerprint(self) -> str:
        """Names the generator and its settings: videos made by another configuration are not reused."""
        settings = {k: v for k, v in asdict(self).items() if not (k == "frames" and v is None)}  # as before it was one
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


def describe(config: SynthConfig, video: int, words: list[str]) -> str:
    """A description naming each word with probability ``text_info``, after a sentence about the scene."""
    scene, named = _description_parts(config, video, words)
    if config.language == "zh":
        return f"{scene}。" + (f"视频里打出的词有：{'、'.join(named)}。" if named else "")
    return f"{scene}." + (f" The signs include: {', '.join(named)}." if named else "")


def named_words(config: SynthConfig, video: int, words: list[str]) -> list[str]:
    """The words of the translation that the video's description names (its answer key)."""
    return _description_parts(config, video, words)[1]


def _description_parts(config: SynthConfig, video: int, words: list[str]) -> tuple[str, list[str]]:
    rng = _rng(config, DESCRIPTION, video)
    scene = SCENES[config.language][int(rng.integers(len(SCENES[config.language])))]
    named = [w for w in words if rng.random() < config.text_info]
    return scene, [named[i] for i in rng.permutation(len(named))]


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
    for name in SPLIT_NAMES:
        members = np.flatnonzero(split == name)
        has_text[text_rng.choice(members, round(config.text_ratio * members.size), replace=False)] = True
    rows = []
    for i in range(config.videos):
        words = [vocab.words[w] for w in sentence(config, i)]
        rows.append({
            "id": f"synth{i:06d}", "split": split[i], "translation": translate(config, words),
            "gloss": " ".join(words), "signer": "synth", "description": describe(config, i, words) if has_text[i] else "",
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
    """What the store records about its own answers (store.schema.json#/$defs/synth), ceilings per split."""
    pairs = [[vocab.words[w], vocab.words[vocab.ambiguous(w)]] for w in range(0, 2 * config.ambiguous_pairs, 2)]
    truth = SynthTruth(tuple(vocab.words), tuple(map(tuple, pairs)), config.language)
    ceilings = {}
    for name in SPLIT_NAMES:
        videos = [i for i, row in enumerate(rows) if row["split"] == name and row["description"]]
        sentences = [[vocab.words[w] for w in sentence(config, i)] for i in videos]
        named = [named_words(config, i, words) for i, words in zip(videos, sentences, strict=True)]
        ceilings[name] = {"n_with_text": len(videos), **truth.ceilings(sentences, named)}
    return {
        "generator": GENERATOR_VERSION,
        "config": asdict(config),
        "words": list(vocab.words),
        "ambiguous_pairs": pairs,
        "ceilings": ceilings,
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
