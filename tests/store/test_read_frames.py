"""Store.read_frames (the batched reader) and the chunk-aligned layout of the pose arrays."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from helpers import fake_result

import prep
from prep.layout import holistic
from prep.store import validate
from prep.store.frames import FRAME_CHUNK
from prep.store.info import summarize

LENGTHS = (40, 64, 150, 1, 90)


@pytest.fixture
def store_url(tmp_path):
    url = str(tmp_path / "frames.zarr")
    with prep.open_store(url, mode="a") as store:
        store.upsert_rows([{"id": f"v{i}", "split": "train", "translation": "x"} for i in range(len(LENGTHS) + 1)])
        store.set_layout(holistic())
        store.commit_videos([fake_result(f"v{i}", n, seed=i) for i, n in enumerate(LENGTHS[:3])])
        blank = fake_result("v5", 70, seed=9)
        blank.conf[:] = 0  # nothing detected: zarr writes no chunk for all-zero data
        store.commit_videos([fake_result(f"v{i}", n, seed=i) for i, n in enumerate(LENGTHS) if i >= 3] + [blank])
    return url


def test_each_video_starts_on_a_chunk_boundary(store_url):
    store = prep.open_store(store_url)
    offsets = store.column("frame_offset")
    assert (offsets % FRAME_CHUNK == 0).all()
    assert offsets.tolist() == [0, 64, 128, 320, 384, 512]  # 40 -> 64, 64 -> 128, 150 -> 320, ...
    assert validate(store) == []
    assert summarize(store)["frames"]["unreferenced"] == 0  # the gaps up to a chunk boundary are not waste


def test_reads_many_spans_in_one_call_like_pose(store_url):
    store = prep.open_store(store_url)
    spans = [store.frame_range(v) for v in ("v2", "v0", "v3", "v2", "v4")]
    spans.append((spans[0][0] + 70, spans[0][0] + 75))  # inside a chunk, across none
    spans.append((spans[0][0] + 60, spans[0][0] + 140))  # across two chunk boundaries
    xyz, conf = store.read_frames(spans)
    arrays = zarr.open_group(store_url, mode="r")["pose"]  # the raw arrays, as written
    np.testing.assert_array_equal(xyz, np.concatenate([arrays["xyz"][a:b] for a, b in spans]))
    np.testing.assert_array_equal(conf, np.concatenate([arrays["conf"][a:b] for a, b in spans]))
    points = np.array([522, 0, 11, 11])
    xyz_p, conf_p = store.read_frames(spans, points)
    np.testing.assert_array_equal(xyz_p, xyz[:, points])
    np.testing.assert_array_equal(conf_p, conf[:, points])


def test_chunks_never_written_read_as_zeros(store_url):
    store = prep.open_store(store_url)
    first, end = store.frame_range("v5")
    _, conf = store.read_frames([(first, end)])
    assert conf.shape == (70, 543) and not conf.any()
    np.testing.assert_array_equal(store.pose("v5")[1], conf)


def test_other_encodings_are_read_through_zarr(store_url):
    """A store whose pose arrays another tool re-encoded (here: zstd, chunks split on the point axis)."""
    store = prep.open_store(store_url)
    spans = [store.frame_range(v) for v in ("v2", "v0")]
    expected = store.read_frames(spans, np.array([3, 500]))
    root = zarr.open_group(store_url, mode="r+")
    for name in ("xyz", "conf"):
        data = root[f"pose/{name}"][:]
        root.create_array(
            f"pose/{name}", data=data, chunks=(32, 100, *data.shape[2:]), compressors=zarr.codecs.ZstdCodec(),
            overwrite=True,
        )  # fmt: skip
    again = prep.open_store(store_url)
    for a, b in zip(again.read_frames(spans, np.array([3, 500])), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not again._readers["xyz"].fast


def test_a_remote_store_reads_the_same(tmp_path, store_url):
    """Through fsspec (memory://), as an s3:// store would be read."""
    import fsspec

    local = prep.open_store(store_url)
    spans = [local.frame_range(v) for v in ("v4", "v2", "v5")]  # v5: conf chunks never written
    memory = fsspec.filesystem("memory")
    memory.put(store_url, "/copy.zarr", recursive=True)
    remote = prep.open_store("memory:///copy.zarr")
    for a, b in zip(remote.read_frames(spans), local.read_frames(spans), strict=True):
        np.testing.assert_array_equal(a, b)
    memory.rm("/copy.zarr", recursive=True)
