"""``mmprep extract``: MediaPipe Holistic keypoints of every video, extracted in parallel into the store.

The client (this process) is the store's only writer. It finds the videos, skips those already extracted
from the same content with the same settings, and hands the rest to dask workers, at most one per worker
thread at a time. A worker decodes a video and runs MediaPipe on it (``extract_video``) and returns the
finished result; the client commits each result as soon as it arrives, so an interrupted run loses only the
videos in flight and the next run continues where it stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
from distributed import Client, Future, KilledWorker, WorkerPlugin, as_completed
from tqdm import tqdm

from ..cluster import WorkerSetup, connect, default_workers
from ..errors import MmprepError
from ..layout import holistic
from ..store import Store, VideoResult
from ..store.manifest import attach_manifest
from .decode import DecodeError, VideoReader
from .holistic import HolisticModel
from .sources import open_video, source_fingerprint
from .videos import VideoFile
from .workers import PRELOAD, RETRIES_AFTER_CRASH, THREAD_LIMITS, native_stderr_silenced

# Fault-injection hooks, for the tests only; nothing sets them in normal use. A worker asked to extract a file
# named $MMPREP_TEST_CRASH_ON kills its own process with SIGSEGV, as a crashing MediaPipe would. One asked to
# extract a file named $MMPREP_TEST_STOP_ON stops its own process (SIGSTOP) until it gets SIGCONT: a test that
# sees the stopped worker knows where the run is, and interrupts it there.
CRASH_ON_ENV = "MMPREP_TEST_CRASH_ON"
STOP_ON_ENV = "MMPREP_TEST_STOP_ON"
FINGERPRINT_THREADS = 16  # files fingerprinted at once by the client (I/O bound)


@dataclass(frozen=True)
class ExtractOptions:
    stride: int = 1  # keep every stride-th frame
    max_frames: int | None = None  # keep at most this many frames of each video
    refine_face: bool = False  # 478 face points instead of 468
    model_complexity: int = 1
    fps: float | None = None  # the frame rate of frame folders (a video file has its own)

    @property
    def settings(self) -> str:
        """The settings that change a video's result (the face mesh is fixed by the store's layout)."""
        return f"stride={self.stride},max_frames={self.max_frames or 'all'},complexity={self.model_complexity}"

    @classmethod
    def from_settings(cls, settings: str, refine_face: bool = False) -> ExtractOptions:
        """The options whose ``settings`` are ``settings`` (as a fingerprint records them); ValueError if not."""
        values = dict(part.partition("=")[::2] for part in settings.split(","))
        try:
            max_frames = None if values["max_frames"] == "all" else int(values["max_frames"])
            return cls(int(values["stride"]), max_frames, refine_face, int(values["complexity"]))
        except (KeyError, ValueError):
            raise ValueError(f"not extraction settings: {settings!r}") from None


# ---------------------------------------------------------------------------------------------- worker side
_models: dict[tuple[bool, int], HolisticModel] = {}  # one MediaPipe graph per worker process, reused


def extract_video(video: VideoFile, options: ExtractOptions) -> VideoResult:
    """Decode one video and run MediaPipe Holistic on it. A bad video gives a ``failed`` result, never an
    exception; only a problem of the worker itself (e.g. a missing model file) raises."""
    name = os.path.basename(video.path)
    if os.environ.get(CRASH_ON_ENV) == name:
        os.kill(os.getpid(), signal.SIGSEGV)
    if os.environ.get(STOP_ON_ENV) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
    key = (options.refine_face, options.model_complexity)
    if key not in _models:
        _models[key] = HolisticModel(*key)
    model = _models[key]

    base = {"id": video.id, "source": video.path}
    try:
        base["fingerprint"] = source_fingerprint(video.path, options.settings, options.fps)
    except OSError as e:
        return VideoResult(**base, status="failed", error=_unreadable(video.path, e))
    times: list[float] = []
    shape: list[int] = []

    def frames(reader: VideoReader):
        for frame in reader.frames(options.stride, options.max_frames):
            times.append(frame.time)
            shape[:] = frame.rgb.shape[:2]
            yield frame.rgb

    try:
        with open_video(video.path, options.fps) as reader:
            marks = model.landmarks(frames(reader))
            fps = reader.fps or _fps_from_times(times, options.stride)
    except DecodeError as e:
        return VideoResult(**base, status="failed", error=str(e), n_frames=len(times))
    except Exception as e:  # MediaPipe's own errors on an odd frame: this video fails, the others go on
        del _models[key]  # a graph that failed may not reset cleanly: the next video gets a new one
        return VideoResult(**base, status="failed", error=f"MediaPipe: {type(e).__name__}: {e}", n_frames=len(times))
    if not fps:
        return VideoResult(**base, status="failed", error="the stream gives no frame rate", n_frames=len(times))

    height, width = shape
    info = {**base, "n_frames": len(times), "fps": fps, "width": width, "height": height}
    if not marks.person:
        return VideoResult(**info, status="no_person")
    return VideoResult(**info, status="ok", xyz=marks.xyz, conf=marks.conf, time=np.asarray(times, dtype=np.float64))


def _unreadable(path: str, error: OSError) -> str:
    if os.path.islink(path) and not os.path.exists(path):
        return f"the link points to a missing file ({os.readlink(path)})"
    return f"cannot read the file: {error.strerror or error}"


def _fps_from_times(times: list[float], stride: int) -> float:
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return (len(times) - 1) * stride / span if span > 0 else 0.0


class SilenceNativeLogs(WorkerPlugin):
    """``native_stderr_silenced`` for as long as a local worker runs. Registered only on the local cluster:
    an existing cluster's workers are left as their owner set them up."""

    name = "mmprep-silence-native-logs"

    def setup(self, worker) -> None:
        self._silenced = ExitStack()
        self._silenced.enter_context(native_stderr_silenced())

    def teardown(self, worker) -> None:
        self._silenced.close()


EXTRACTION = WorkerSetup(PRELOAD, THREAD_LIMITS, RETRIES_AFTER_CRASH, plugins=(SilenceNativeLogs,))


# ---------------------------------------------------------------------------------------------- client side
@dataclass
class Summary:
    """What a run did: ``counts`` are this run's results per status. ``failures`` lists (id, error) of every
    selected video that is failed in the store after the run, whether it failed now or in an earlier run."""

    found: int = 0
    skipped: int = 0  # unchanged since their committed extraction
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "no_person": 0, "failed": 0})
    frames: int = 0  # frames decoded and run through MediaPipe
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # manifest ids with no video
    unlisted: int = 0  # videos found but not in the manifest (not extracted)

    @property
    def extracted(self) -> int:
        return sum(self.counts.values())


def extract(
    store: Store,
    videos: list[VideoFile],
    options: ExtractOptions = ExtractOptions(),  # frozen, so a safe default
    *,
    manifest: list[dict] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> Summary:
    """Extract ``videos`` into ``store`` (open for writing) and return what was done.

    With ``manifest`` (rows read by ``prep.store.manifest.read_manifest``) the manifest is attached to the store and
    only its ids are extracted. A video whose committed result has the fingerprint the file has now is skipped
    unless ``force``; a video failed by worker crashes has no fingerprint, so it is always tried again.

    >>> with open_store("csl.zarr", mode="a") as store:                  # doctest: +SKIP
    ...     summary = extract(store, find_videos("videos/"), workers=4)
    """
    summary = Summary(found=len(videos))
    store.set_layout(holistic(options.refine_face))
    if manifest is not None:
        attach_manifest(store, manifest)
        wanted = {row["id"] for row in manifest}
        found = {v.id for v in videos}
        summary.missing = sorted(wanted - found)
        summary.unlisted = len(found - wanted)
        videos = [v for v in videos if v.id in wanted]
    store.upsert_rows([{"id": v.id, "source": v.path} for v in videos])

    todo = videos if force else _changed(store, videos, options)
    summary.skipped = len(videos) - len(todo)
    if todo:
        started = time.perf_counter()
        if not scheduler:  # a local cluster needs no more workers than there are videos
            workers = min(workers or default_workers(), len(todo))
        with connect(EXTRACTION, workers, scheduler) as client:
            _run(client, store, _longest_first(todo), options, summary, progress)
        summary.seconds = time.perf_counter() - started
    status, error = store.column("status"), store.column("error")
    rows = [store.row(v.id) for v in videos]
    summary.failures = [(store.ids[i], str(error[i])) for i in rows if status[i] == "failed"]
    return summary


def _changed(store: Store, videos: list[VideoFile], options: ExtractOptions) -> list[VideoFile]:
    """The videos without a committed result for the content and settings they have now."""
    status, committed = store.column("status"), store.column("fingerprint")
    done = [v for v in videos if status[store.row(v.id)] != "pending" and committed[store.row(v.id)]]

    def current(video: VideoFile) -> str | None:
        try:
            return source_fingerprint(video.path, options.settings, options.fps)
        except OSError:
            return None  # unreadable now: extract it again, and record why it fails

    with ThreadPoolExecutor(FINGERPRINT_THREADS) as pool:
        unchanged = {
            v.id for v, fp in zip(done, pool.map(current, done), strict=True) if fp == committed[store.row(v.id)]
        }
    return [v for v in videos if v.id not in unchanged]


def _longest_first(videos: list[VideoFile]) -> list[VideoFile]:
    """Biggest files first, so the last videos to finish are short ones and no worker idles long at the end."""

    def size(video: VideoFile) -> int:
        try:
            return os.path.getsize(video.path)
        except OSError:
            return 0

    return sorted(videos, key=size, reverse=True)


class WorkerError(MmprepError):
    """A worker could not run the extraction at all (not a problem of one video)."""


def _run(client: Client, store: Store, todo: list[VideoFile], options: ExtractOptions, summary: Summary,
         progress: bool) -> None:  # fmt: skip
    """Commit results as they arrive, with a progress bar."""
    started = time.perf_counter()
    with tqdm(total=len(todo), unit="video", disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        for results in extract_on(client, todo, options):
            store.commit_videos(results)
            for result in results:
                summary.counts[result.status] += 1
                summary.frames += result.n_frames
            bar.set_postfix_str(f"{summary.frames / (time.perf_counter() - started):.1f} frames/s", refresh=False)
            bar.update(len(results))


def extract_on(client: Client, videos: list[VideoFile], options: ExtractOptions) -> Iterator[list[VideoResult]]:
    """The results of ``videos`` extracted on ``client``'s cluster, a batch at a time as they finish.

    Every worker thread is kept busy with one video, not a queue per worker: when a worker process dies, dask
    counts the crash against every task assigned to it, and only the video that crashed it should pay for that.
    A video whose worker died on every try is a failed result; a worker that cannot run the extraction at all
    raises WorkerError, after the batch with the results finished beside it. Closing the iterator early cancels
    the videos in flight.
    """
    waiting = deque(videos)
    in_flight: dict[Future, VideoFile] = {}
    finished = as_completed(loop=client.loop)

    def submit() -> None:
        capacity = max(1, sum(client.nthreads().values()))
        while waiting and len(in_flight) < capacity:
            video = waiting.popleft()
            future = client.submit(extract_video, video, options, key=f"extract-{uuid.uuid4().hex}", pure=False)
            in_flight[future] = video
            finished.add(future)

    try:
        submit()
        for batch in finished.batches():
            results, fatal = [], None
            for future in batch:
                try:
                    results.append(_result(future, in_flight.pop(future)))
                except MmprepError as error:
                    fatal = error
            if fatal is None:
                submit()  # before the caller commits, so the workers do not wait for the store
            yield results
            if fatal is not None:
                raise fatal
    finally:
        if in_flight:
            client.cancel(list(in_flight))


def _result(future: Future, video: VideoFile) -> VideoResult:
    """A finished task's result; a failed result when its worker process died on every try."""
    # Not future.status: as_completed can hand out a future whose status is not final yet (seen after a worker
    # crash under load: not "error", and then result() raised KilledWorker).
    try:
        return future.result()
    except KilledWorker as error:
        # No fingerprint: a crash may not recur, so the next run tries this video again.
        return VideoResult(
            id=video.id, source=video.path, status="failed",
            error=f"the worker process died {error.allowed_failures + 1} times while extracting this video "
                  "(a crash in MediaPipe or the decoder)",
        )  # fmt: skip
    except MmprepError:
        raise
    except Exception as error:
        raise WorkerError(f"a dask worker could not run the extraction: {type(error).__name__}: {error}") from error
