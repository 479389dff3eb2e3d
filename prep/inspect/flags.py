"""Which videos are flagged, by thresholds with defaults (each a `mmprep inspect` option), and in which order.

The defaults, and why (docs/inspect.md):

- hands missing in more than 50 % of the frames: signing keeps at least one hand up most of the time;
  a video whose hands are gone for most of it has little left to translate from;
- a run of more than 1 s with no hand: longer than a pause between signs or the rest before the first one;
- a signer whose shoulders span less than 0.15 of the frame's longer side: a wide shot, where the hands are
  few pixels wide and MediaPipe loses them more often;
- jitter: more than 5 % of a hand's steps faster than 15 shoulder widths per second (about 5-6 m/s, beyond
  the speed of a signing hand): a hand that jumps from place to place is a hand misplaced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

FLAGS = ("hands_missing", "long_gap", "small_signer", "jitter")


@dataclass(frozen=True)
class Thresholds:
    max_hands_missing: float = 50.0  # % of frames with no hand
    max_gap: float = 1.0  # seconds with no hand, in one run
    min_signer_size: float = 0.15  # shoulder width over the frame's longer side
    max_hand_speed: float = 15.0  # shoulder widths per second: faster steps are jitter
    max_jitter: float = 5.0  # % of a video's hand steps that are jitter

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self, flag: str) -> str:
        """What ``flag`` means with these thresholds, for people."""
        return {
            "hands_missing": f"no hand in more than {self.max_hands_missing:g} % of the frames",
            "long_gap": f"a run of more than {self.max_gap:g} s with no hand",
            "small_signer": f"shoulders narrower than {self.min_signer_size:g} of the frame's longer side",
            "jitter": f"more than {self.max_jitter:g} % of the hand steps faster than {self.max_hand_speed:g} "
            "shoulder widths per second",
        }[flag]


DEFAULTS = Thresholds()


def jitter_share(figures: dict) -> float:
    """The share of a video's measured hand steps that are jitter (0 when none was measured)."""
    jitter = figures["jitter"]
    return jitter["outliers"] / jitter["steps"] if jitter and jitter["steps"] else 0.0


def flags(figures: dict, thresholds: Thresholds) -> list[str]:
    """The flags (in FLAGS order) of a video's ``figures`` (``metrics.figures``)."""
    size = figures["signer_size"]
    raised = {
        "hands_missing": figures["no_hand"] * 100 > thresholds.max_hands_missing,
        "long_gap": figures["longest_no_hand"]["seconds"] > thresholds.max_gap,
        "small_signer": size is not None and size < thresholds.min_signer_size,
        "jitter": jitter_share(figures) * 100 > thresholds.max_jitter,
    }
    return [flag for flag in FLAGS if raised[flag]]


def worst_first(records: list[dict]) -> list[dict]:
    """The records (figures with their ``flags``) from the worst: most flags, then the larger share of frames
    without a hand, then the larger share of jitter; ties keep the store's order."""
    return sorted(records, key=lambda r: (-len(r["flags"]), -r["no_hand"], -jitter_share(r)))
