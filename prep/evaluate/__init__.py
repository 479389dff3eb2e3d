"""Evaluation of trained runs: inference modes, translation quality and the consistency check (docs/missing-modality.md §3, §5).

>>> from prep.evaluate import InferenceMode, evaluate, write             # doctest: +SKIP
>>> report, videos = evaluate("runs/stage2", split="dev", mode=InferenceMode("ensemble"))   # doctest: +SKIP
>>> write(report, videos, "runs/stage2/eval/dev-ensemble.json")          # doctest: +SKIP
"""

from .evaluation import default_output, evaluate, predictions_path, read, write
from .modes import MODES, InferenceMode
from .summary import render

__all__ = ["MODES", "InferenceMode", "default_output", "evaluate", "predictions_path", "read", "render", "write"]
