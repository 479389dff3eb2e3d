"""Keypoints of new videos, extracted as `mmprep extract` extracted the run's store.

The settings come from the store: a video's fingerprint records the stride, frame limit and pose model it
was extracted with (``prep.extract.videos.fingerprint``), the layout whether the face mesh was refined. Every
video goes through ``prep.extract.run.extract_video``, the function `mmprep extract`'s workers run: one video
in this process, several on a local dask cluster as `mmprep extract` runs them (``prep.extract.run.extract_on``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ..cluster import connect, default_workers
from ..errors import InputError
from ..extract.holistic import ensure_pose_model
from ..extract.run import EXTRACTION, ExtractOptions, extract_on, extract_video
from ..extract.videos import VideoFile, find_videos, fingerprint_settings
from ..extract.workers import native_stderr_silenced
from ..layout import holistic
from ..store import Store, VideoResult


def extraction_options(store: Store) -> tuple[ExtractOptions, str | None]:
    """(the options the store's ok videos were extracted with, a note for the user or None).

    A store with no extraction settings on record (``mmprep synth``'s, or poses imported with ``mmprep
    import``) gets `mmprep extract`'s defaults, with a note; one whose videos were extracted with different
    settings gets those of most of them, with a note."""
    layout = store.layout
    refine_face = layout is not None and layout == holistic(refine_face=True)
    ok = store.column("status") == "ok"
    found = Counter(s for s in map(fingerprint_settings, store.column("fingerprint")[ok]) if s is not None)
    if not found:
        return ExtractOptions(refine_face=refine_face), (
            f"{store.url} records no extraction settings (its poses were not made by `mmprep extract`); "
            "new videos are extracted with `mmprep extract`'s defaults"
        )
    settings = found.most_common(1)[0][0]
    note = None
    if len(found) > 1:
        listed = ", ".join(f"{s} ({n} videos)" for s, n in found.most_common())
        note = f"{store.url} was extracted with several settings: {listed}; new videos use {settings}"
    return ExtractOptions.from_settings(settings, refine_face), note


def find_all(paths: list[str], glob: str | None = None) -> list[VideoFile]:
    """The videos of every path (a video file, or a folder searched as `mmprep extract` searches it).
    InputError when two paths give one id."""
    videos: dict[str, VideoFile] = {}
    for path in paths:
        for video in find_videos(path, glob):
            if video.id in videos and videos[video.id].path != video.path:
                raise InputError(
                    f"{videos[video.id].path} and {video.path} would both be video {video.id!r}; "
                    "translate them in two runs (or rename one)"
                )
            videos[video.id] = video
    return list(videos.values())


def extract_each(videos: list[VideoFile], options: ExtractOptions, workers: int | None = None) -> Iterator[VideoResult]:
    """Each video's extraction result (ok, failed or no_person), as each finishes: in this process for one
    video or ``workers=1``, else on a local cluster of ``workers`` processes (default one per core)."""
    ensure_pose_model(options.model_complexity)
    workers = min(workers or default_workers(), len(videos))
    if workers <= 1:
        for video in videos:
            with native_stderr_silenced():
                result = extract_video(video, options)
            yield result
        return
    with connect(EXTRACTION, workers) as client:
        for results in extract_on(client, videos, options):
            yield from results
