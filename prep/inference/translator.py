"""Translating new videos with a trained model, with or without a description.

>>> translator = prep.Translator.from_run("runs/stage2")                 # doctest: +SKIP
>>> translator.translate("clip.mp4", description="一位女士在室内打手语。")["translation"]   # doctest: +SKIP
>>> translator = prep.Translator.from_pretrained("exported/")           # no store, no network  # doctest: +SKIP

A video goes the way the model's training data went: keypoints extracted with the store's `mmprep extract`
settings (``prep.inference.extraction``; this needs MediaPipe, the ``mediapipe`` extra), or read from a
``.pose`` file whose keypoints were extracted elsewhere (as `mmprep import` reads it: no MediaPipe), the run's points selected and normalised and its frames sampled
(``prep.data.dataset.prepare``, ``make_item``), a batch made by ``collate``. A description is encoded with the
text encoder the store's features came from (its provenance; ``text_model`` when it has moved). Decoding is
``mmprep eval``'s: the inference mode's members in scenario A, which for a video without a description is
scenario B, the placeholder standing in. So a video of the store translates here as eval translated it.

Each translation comes with the fusion's text weight (``fusion.TEXT_WEIGHT``, as eval reports it:
``gate_opening`` under gate fusion, ``text_norm_share`` under token fusion) and the model's
confidence in its own output: the mean over the output tokens of the largest token probability, under
teacher forcing on that output (eval's confidence, with the translation in place of the reference).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import collate, make_item, prepare, read_points
from ..errors import InputError
from ..evaluate import InferenceMode
from ..evaluate.loading import load_run
from ..evaluate.metrics import mixture_log_probs, token_statistics
from ..extract.holistic import require_mediapipe
from ..extract.run import ExtractOptions
from ..extract.videos import VideoFile
from ..interop.base import Loaded
from ..interop.pose_format import is_pose_file, load_pose_file
from ..layout import Layout
from ..model.decoding import generate, to_device
from ..model.fusion import TEXT_WEIGHT
from ..store import VideoResult
from ..text.encode import encode
from ..text.hub import Encoder, load_encoder
from ..train.diagnostics import text_weight_per_sample
from .extraction import extract_each
from .spec import run_spec


class Translator:
    """A model ready to translate videos: build it with ``from_run`` or ``from_pretrained``.

    Args:
        model: the trained ``SignTranslationModel``, on ``device``.
        tokenizer: its backbone's tokenizer.
        device: where the model runs.
        spec: what the model needs to see a video as in training, as an exported folder's mmprep-model.json
            holds it (schemas/exported-model.schema.json): extraction settings, layout and points, frames, the
            text encoder's provenance, decoding.
        mode: the inference mode (``prep.evaluate.InferenceMode``); None: missing-aware.
        beams: beam size; 1 is greedy decoding.
        text_model: where the text encoder is when it is no longer where the store's features came from (a
            folder or a hub name); None: that recorded place.
        notes: what the user should know (defaults taken, a description cut); translating adds to them.
    """

    def __init__(self, model, tokenizer, device: torch.device, spec: dict, mode: InferenceMode | None = None,
                 beams: int = 1, text_model: str | None = None, notes: list[str] | None = None):  # fmt: skip
        self.model, self.tokenizer, self.device, self.spec = model, tokenizer, device, spec
        self.mode, self.beams, self.text_model = mode or InferenceMode(), beams, text_model
        self.notes = list(notes or [])  # what the user should know (e.g. defaults taken); the CLI prints them
        data = spec["data"]
        self._layout = Layout.from_json(data["layout"])
        _, self._read = read_points(data["points"], self._layout.point_names)
        self.extraction = ExtractOptions(**spec["extraction"])
        self._encoder: Encoder | None = None

    @classmethod
    def from_run(cls, run_dir: str | Path, *, checkpoint: str = "best", mode: InferenceMode | None = None,
                 beams: int = 1, text_model: str | None = None, store_url: str | None = None,
                 storage_options: dict | None = None, device: str = "auto") -> Translator:  # fmt: skip
        """A run of `mmprep train`. Its store gives the extraction settings, the layout, the text encoder's
        provenance and, for the ensemble of a model without a mask embedding, the mask_init.

        Args:
            run_dir: the run directory.
            checkpoint: ``"best"`` (the highest dev BLEU in training) or ``"last"``.
            mode: the inference mode; None: missing-aware.
            beams: beam size; 1 is greedy decoding.
            text_model: the text encoder's folder (or hub name) where it has moved since the store's features
                were encoded; None: where they came from.
            store_url: the run's store where it has moved; None: the one it was trained on.
            storage_options: fsspec options for a remote ``store_url``.
            device: ``"auto"`` (a GPU when there is one), ``"cpu"`` or ``"cuda"``.
        """
        mode = mode or InferenceMode()
        run = load_run(run_dir, checkpoint, store_url, storage_options, device, need_mask=mode.name == "ensemble")
        spec, notes = run_spec(run)
        return cls(run.model, run.tokenizer, run.device, spec, mode, beams, text_model, notes)

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, mode: InferenceMode | None = None, beams: int = 1,
                        text_model: str | None = None, device: str = "auto") -> Translator:  # fmt: skip
        """A folder written by ``mmprep export-model``: safetensors and JSON only, no store, no network.

        Args:
            folder: the exported folder.
            mode: the inference mode; None: missing-aware.
            beams: beam size; 1 is greedy decoding.
            text_model: the text encoder's folder (or hub name), needed to translate with descriptions where
                it is not where the features it was trained on came from.
            device: ``"auto"`` (a GPU when there is one), ``"cpu"`` or ``"cuda"``.
        """
        from .export import load_export

        mode = mode or InferenceMode()
        model, tokenizer, target, spec = load_export(folder, device, need_mask=mode.name == "ensemble")
        return cls(model, tokenizer, target, spec, mode, beams, text_model)

    @classmethod
    def open(cls, path: str | Path, *, checkpoint: str = "best", mode: InferenceMode | None = None, beams: int = 1,
             text_model: str | None = None, store_url: str | None = None, storage_options: dict | None = None,
             device: str = "auto") -> Translator:  # fmt: skip
        """An exported model (``from_pretrained``) or a run (``from_run``), whichever ``path`` holds.

        Args:
            path: a run directory of `mmprep train` or a folder of `mmprep export-model`.
            checkpoint: a run's ``"best"`` or ``"last"``; an export has one.
            mode: the inference mode; None: missing-aware.
            beams: beam size; 1 is greedy decoding.
            text_model: the text encoder's folder (or hub name) where it has moved; None: where the features
                came from.
            store_url: a run's store where it has moved; None: the one it was trained on. An export needs none.
            storage_options: fsspec options for a remote ``store_url``.
            device: ``"auto"`` (a GPU when there is one), ``"cpu"`` or ``"cuda"``.

        Raises:
            InputError: ``store_url`` or another checkpoint than "best" asked of an export.
        """
        from .export import is_export

        if not is_export(path):
            return cls.from_run(path, checkpoint=checkpoint, mode=mode, beams=beams, text_model=text_model,
                                store_url=store_url, storage_options=storage_options, device=device)  # fmt: skip
        if store_url or checkpoint != "best":
            raise InputError(f"{path} is an exported model: it has one checkpoint and needs no --store")
        return cls.from_pretrained(path, mode=mode, beams=beams, text_model=text_model, device=device)

    # ------------------------------------------------------------------ text
    @property
    def encoder(self) -> Encoder:
        """The run's text encoder, loaded on first use (a translation without a description never needs it)."""
        if self._encoder is None:
            provenance = self.spec["text_encoder"]
            if provenance is None:
                raise InputError("the run's store has no text features, so the model has no text encoder to use")
            name = self.text_model or provenance["model"]
            if self.text_model is None and os.path.isabs(name) and not os.path.exists(name):
                raise InputError(
                    f"the run's text encoder {name} is not on this machine; pass its folder with --text-model "
                    f"(text_model=...): the model {provenance['model']!r}, revision {provenance['revision'][:12]}"
                )
            encoder = load_encoder(name, device=str(self.device), dtype=provenance["dtype"])
            if encoder.dim != self.model.config.text_dim:
                raise InputError(
                    f"--text-model {name}: {encoder.dim}-wide features; the model was trained on "
                    f"{self.model.config.text_dim}-wide ones from {provenance['model']}"
                )
            if encoder.revision != provenance["revision"]:
                self.notes.append(
                    f"the text encoder {name} (revision {encoder.revision[:12]}) is not the one the run's features "
                    f"came from (revision {provenance['revision'][:12]}): translations with text may differ"
                )
            self._encoder = encoder
        return self._encoder

    def _text(self, description: str | None, video_id: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(pooled feature, per-token features where the model reads them) of a description; (None, None)
        without one. A description past the encoder's max length is cut there, as `mmprep encode-text` cuts it,
        with a note."""
        if description is None or not description.strip():  # as encode-text: blank is no text
            return None, None
        provenance = self.spec["text_encoder"]
        tokens = self.model.config.text_tokens
        encoded = encode(
            self.encoder, [description], pooling=provenance["pooling"], max_length=provenance["max_length"],
            keep_tokens=tokens,
        )  # fmt: skip
        if encoded.n_truncated:
            self.notes.append(
                f"{video_id}: the description is longer than the {provenance['max_length']} tokens the store's "
                "descriptions were encoded with; it was cut there, as `mmprep encode-text` cuts them"
            )
        return encoded.features[0], encoded.token_features[0] if tokens else None

    # ------------------------------------------------------------------ translation
    def translate(self, video_path: str | Path, description: str | None = None) -> dict:
        """Extract and translate one video file, or translate the keypoints of a ``.pose`` file.

        Args:
            video_path: a video (extracted with the store's settings; needs MediaPipe) or a ``.pose`` file.
            description: the video's description; None or blank: none, the placeholder stands in.

        Returns:
            The record `mmprep translate --out` writes: ``id``, ``source``, ``translation``, ``has_text``, the
            mode, beams, the fusion's text weight and ``confidence`` (docs/translate.md).

        Raises:
            InputError: the file does not exist, cannot be extracted or read.
        """
        path = Path(video_path)
        if not path.is_file():
            raise InputError(f"{path}: no such video file")
        return next(self.translate_many([VideoFile(path.stem, str(path.absolute()))], {path.stem: description}, 1,
                                        raise_errors=True))  # fmt: skip

    def translate_many(
        self, videos: list[VideoFile], descriptions: dict[str, str] | None = None, workers: int | None = None,
        raise_errors: bool = False,
    ) -> Iterator[dict]:  # fmt: skip
        """One record per video: a translation (as ``translate``), or ``id``, ``source`` and ``error`` for a
        video that could not be extracted or read (one bad video never stops the others). ``.pose`` files come
        first, read in this process; then the videos, as each finishes extracting (in parallel). Videos need
        MediaPipe: MediaPipeMissingError before anything is translated without it.

        Args:
            videos: the videos and ``.pose`` files (``VideoFile``: the id its record gets, its path).
            descriptions: video id -> its description; a video not in it has none.
            workers: extraction processes; None: one per core (one video is extracted in this process).
            raise_errors: raise InputError at the first video that fails instead of giving its error record.
        """
        descriptions = descriptions or {}
        poses = [v for v in videos if is_pose_file(v.path)]
        others = [v for v in videos if not is_pose_file(v.path)]
        if others:
            require_mediapipe(
                "translating a video", "Or extract it where MediaPipe is installed (`mmprep extract`, then "
                "`mmprep export --format pose`) and translate its .pose file here."
            )  # fmt: skip
        for video in poses:
            load = functools.partial(load_pose_file, video.id, Path(video.path))
            yield self._record(video.id, video.path, load, descriptions.get(video.id), raise_errors)
        for result in extract_each(others, self.extraction, workers) if others else ():
            load = functools.partial(Loaded, result)
            yield self._record(result.id, result.source, load, descriptions.get(result.id), raise_errors)

    def _record(self, video_id: str, source: str, load, description: str | None, raise_errors: bool) -> dict:
        """The translation of what ``load()`` gives (a Loaded), or an error record (raised with ``raise_errors``)."""
        try:
            loaded = load()
            return self.translate_result(loaded.result, description, loaded.layout)
        except InputError as e:
            if raise_errors:
                raise
            return {"id": video_id, "source": source, "error": str(e)}

    def translate_result(
        self, result: VideoResult, description: str | None = None, layout: Layout | None = None
    ) -> dict:
        """Translate an extraction result.

        Args:
            result: ``prep.extract.run.extract_video``'s, or a ``.pose`` file's; InputError unless it is ok.
            description: the video's description; None: none.
            layout: the layout of the result's points (a ``.pose`` file's); None: the model's.
        """
        if result.status != "ok":
            reason = result.error or "MediaPipe found nobody in any frame"
            raise InputError(f"{result.source}: cannot translate it ({result.status}): {reason}")
        read = self._read_indices(layout, result.source)
        record = self.translate_pose(result.id, result.xyz, result.conf, result.width, result.height, description,
                                     read=read)  # fmt: skip
        return {"id": result.id, "source": result.source, **{k: v for k, v in record.items() if k != "id"}}

    def _read_indices(self, layout: Layout | None, source: str) -> np.ndarray:
        """Where the model's points (and the shoulders) sit in poses of ``layout`` (None: the model's own):
        found by name, so a .pose file with the refined face mesh serves a model trained without it."""
        if layout is None or layout == self._layout:
            return self._read
        names = [self._layout.point_names[i] for i in self._read]
        where = {name: i for i, name in enumerate(layout.point_names)}
        missing = [name for name in names if name not in where]
        if missing:
            raise InputError(
                f"{source}: its poses ({layout.name}, {layout.n_points} points) lack {len(missing)} of the points "
                f"the model reads, e.g. {missing[0]}: the model was trained on {self._layout.name} poses"
            )
        return np.array([where[name] for name in names])

    @torch.no_grad()
    def translate_pose(self, video_id: str, xyz: np.ndarray, conf: np.ndarray, width: int, height: int,
                       description: str | None = None, read: np.ndarray | None = None) -> dict:  # fmt: skip
        """Translate one video's keypoints.

        Args:
            video_id: the id its record gets (and its notes name).
            xyz: [T, P, 3] in frame units (x, y in [0, 1] of the frame), in the store's layout or ``read``'s.
            conf: [T, P] the points' confidences.
            width: the frame's width in pixels (normalisation works in pixels).
            height: the frame's height in pixels.
            description: the video's description; None: none.
            read: which of the P points the model reads, in its order (``_read_indices``, for another
                layout); None: the model's points in the store's layout.
        """
        data = self.spec["data"]
        read = self._read if read is None else read
        points_xyz, points_conf = prepare(xyz[:, read], conf[:, read], width, height, data["normalize"])
        text, tokens = self._text(description, video_id)
        item = make_item(video_id, points_xyz, points_conf, text, "", self.model.config.text_dim, data["max_frames"],
                         text_tokens=tokens)  # fmt: skip
        batch = to_device(collate([item]), self.device)
        members = self.mode.members(batch, "A")  # scenario A: the description where there is one
        max_length = self.spec["decoding"]["max_target_length"]
        ids = generate(self.model, batch, members, max_new_tokens=max_length, num_beams=self.beams, do_sample=False)
        labels = ids[:, 1:].masked_fill(ids[:, 1:] == self.tokenizer.pad_token_id, -100)  # after the start token
        outputs = [self.model(batch, labels, **member) for member in members]
        log_probs = mixture_log_probs([out["logits"] for out in outputs])
        return {
            "id": video_id,
            "translation": self.tokenizer.batch_decode(ids, skip_special_tokens=True)[0],
            "has_text": text is not None,
            "mode": self.mode.name,
            "alpha": self.mode.alpha,
            "factor": self.mode.factor,
            "beams": self.beams,
            TEXT_WEIGHT[self.model.config.fusion].name: float(
                text_weight_per_sample(outputs[0]["text_weight"], outputs[0]["mask"])[0]
            ),
            "confidence": float(token_statistics(log_probs, log_probs, labels)["confidence_a"][0]),
        }


def descriptions_for(videos: list[VideoFile], description: str | None = None,
                     descriptions_file: str | Path | None = None) -> tuple[dict[str, str], list[str]]:  # fmt: skip
    """({video id: description}, ids of ``descriptions_file`` that are not among ``videos``): ``description``
    is the one video's, ``descriptions_file`` rows of id, description (CSV, TSV or JSONL, as for `mmprep
    encode-text`)."""
    from ..tables import read_rows

    if descriptions_file is None:
        return ({videos[0].id: description} if description is not None else {}), []
    texts = {row["id"]: row["description"] for row in read_rows(descriptions_file, "description-row")}
    return texts, sorted(set(texts) - {v.id for v in videos})
