"""``mmprep synth``: a synthetic store with known ground truth."""

from __future__ import annotations

import click
from tqdm import tqdm

from ..synth import TEXT_STYLES, SynthConfig, write_synth
from ..synth.words import LANGUAGES
from .base import main

DEFAULTS = SynthConfig()


def _shares(ctx, param, value: str) -> tuple[float, float, float]:
    try:
        shares = tuple(float(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not three numbers, e.g. 0.8,0.1,0.1") from None
    if len(shares) != 3:
        raise click.BadParameter(f"{value!r} is not three numbers, e.g. 0.8,0.1,0.1")
    return shares


def _frames(ctx, param, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        low, high = (int(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not two frame counts, e.g. 100,300") from None
    return low, high


def _ratio(ctx, param, value: str) -> float | tuple[float, float, float]:
    """One share for every split, or three (train, dev, test)."""
    return _shares(ctx, param, value) if "," in str(value) else _number(value)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number, nor three (train, dev, test), e.g. 0.2") from None


@main.command()
@click.argument("out")
@click.option("--videos", default=DEFAULTS.videos, show_default=True, help="Number of videos.")
@click.option(
    "--text-ratio",
    default=str(DEFAULTS.text_ratio),
    show_default=True,
    callback=_ratio,
    metavar="SHARE|TRAIN,DEV,TEST",
    help="Share of videos with a description, in every split; or three shares: train, dev, test "
    "(e.g. 0.03,0.2,0.2: few described training videos, the test split as usual).",
)
@click.option(
    "--text-info",
    default=DEFAULTS.text_info,
    show_default=True,
    help="Chance that a description names each word of the translation: 0 useless text, 1 every word.",
)
@click.option(
    "--text-distractors",
    default=DEFAULTS.text_distractors,
    show_default=True,
    help="Words a description also names whose sign the video does not show (a pair's word only when neither "
    "word of the pair is signed).",
)
@click.option(
    "--text-style",
    type=click.Choice(TEXT_STYLES),
    default=DEFAULTS.text_style,
    show_default=True,
    help="list: a scene sentence, then the named words as a list; sentence: the named words in running text "
    "(varied sentences).",
)
@click.option(
    "--text-errors",
    default=DEFAULTS.text_errors,
    show_default=True,
    help="Chance that a named word of an ambiguous pair is replaced by its partner (the wrong word).",
)
@click.option("--vocab", default=DEFAULTS.vocab, show_default=True, help="Words (signs) in the vocabulary.")
@click.option(
    "--ambiguous-pairs",
    default=DEFAULTS.ambiguous_pairs,
    show_default=True,
    help="Pairs of words with identical signs: only a description tells them apart.",
)
@click.option(
    "--language",
    type=click.Choice(sorted(LANGUAGES)),
    default=DEFAULTS.language,
    show_default=True,
    help="Language of the words (translations and descriptions).",
)
@click.option("--splits", default="0.8,0.1,0.1", show_default=True, callback=_shares, help="Train, dev, test shares.")
@click.option(
    "--frames",
    metavar="MIN,MAX",
    callback=_frames,
    help="Each video's length in frames, drawn uniformly between MIN and MAX (the rests before and after the signs "
    "make it up), e.g. 100,300 as real corpora's videos [default: the signs' own length with rests, 50-300].",
)
@click.option("--seed", default=DEFAULTS.seed, show_default=True, help="Same seed, same store.")
def synth(
    out, videos, text_ratio, text_info, text_distractors, text_style, text_errors, vocab, ambiguous_pairs, language,
    splits, frames, seed,
):  # fmt: skip
    """Write a synthetic store to OUT: signing with known ground truth, to check missing-text methods.

    Same schema as a store from `mmprep extract`, so encode-text (it encodes the description column),
    init-mask and train run on it unchanged. docs/data.md describes the generator.
    Rerunning with the same options finishes an interrupted run.

    \b
    Example:
      mmprep synth synth.zarr --videos 2000 --text-ratio 0.2 --text-info 0.5
      mmprep synth people.zarr --text-info 0.7 --text-distractors 2 --text-style sentence --text-errors 0.05
      mmprep encode-text --store synth.zarr
    """
    config = SynthConfig(
        videos=videos, text_ratio=text_ratio, text_info=text_info, text_distractors=text_distractors,
        text_style=text_style, text_errors=text_errors, vocab=vocab, ambiguous_pairs=ambiguous_pairs,
        language=language, seed=seed, splits=splits, frames=frames,
    )  # fmt: skip
    with tqdm(total=videos, unit="video", desc="synth", disable=None) as bar:
        counts = write_synth(out, config, progress=bar.update)
    click.echo(
        f"{out}: {counts['videos']} synthetic videos ({counts['made']} made, {counts['kept']} kept), "
        f"{counts['frames']} frames"
    )
