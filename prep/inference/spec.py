"""What translating a new video needs besides the weights, as one JSON-able dict: read from a run and its store,
or from an exported folder's ``mmprep-model.json``.

    config_version  the format version of ``model`` and ``training`` (``prep.train.migrations``)
    model        the ModelConfig (``prep.model.translation``)
    data         the layout the store's poses follow, the selected points by name, normalize, max_frames
    extraction   the `mmprep extract` options of the store's videos (``prep.inference.extraction``)
    text_encoder the store's text provenance (model, revision, pooling, max_length, dtype, dim), or None
    decoding     max_target_length
    training     the run's configuration, without storage_options (which may hold credentials)
"""

from __future__ import annotations

from .._version import __version__
from ..evaluate.loading import Run
from ..train.migrations import CONFIG_VERSION, VERSION_KEY
from .extraction import extraction_options

FORMAT = "mmprep-model"
FORMAT_VERSION = 2  # 2: config_version (a reader of version 1 would take the new field for a damaged file)


def run_spec(run: Run) -> tuple[dict, list[str]]:
    """(the spec of a loaded run, notes for the user)."""
    store, config = run.store, run.config
    data = run.dataset(config["train_split"])  # the model's input as evaluation reads it; checks the store
    options, note = extraction_options(store)
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "toolkit_version": __version__,
        VERSION_KEY: CONFIG_VERSION,
        "source": {
            "run": str(run.run_dir.resolve()),
            "checkpoint": run.checkpoint,
            "step": run.step,
            "store": store.url,
            "mask_source": run.mask_source,
        },
        "model": run.model.config.to_dict(),
        "data": {
            "layout": store.layout.to_json(),
            "points": data.point_names,
            "normalize": data.normalize,
            "max_frames": data.max_frames,
        },
        "extraction": {
            "stride": options.stride,
            "max_frames": options.max_frames,
            "refine_face": options.refine_face,
            "model_complexity": options.model_complexity,
        },
        "text_encoder": store.text_provenance,
        "decoding": {"max_target_length": config["max_target_length"]},
        # storage_options may hold credentials: they stay with the run, not in a folder meant to be shared
        "training": {k: v for k, v in config.items() if k != "storage_options"},
    }
    return spec, [note] if note else []
