"""Stores on S3, against a local moto server (tests/conftest.py: s3_endpoint, s3_url); never a real endpoint."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import s3fs
from botocore.exceptions import EndpointConnectionError
from helpers import hold_lock, write_manifest

import prep
from prep.errors import StoreError, StoreLockedError
from prep.interop.pose_format import read_pose
from prep.store import Location, validate

POSE_DIR = Path(__file__).parent / "data" / "pose"
REFINED = ["6fb01565da31c5500d1ef2cd2906b06b", "7731febd6afbbe90f806a4434c282016"]


def objects(url: str) -> list[str]:
    bucket = url.removeprefix("s3://").split("/")[0]
    return sorted(s3fs.S3FileSystem(skip_instance_cache=True).find(bucket))


def test_manifest_import_info_validate_export_on_s3(tmp_path, s3_url, cli):
    manifest = write_manifest(tmp_path / "m.csv", [(REFINED[0], "train", "你好"), (REFINED[1], "dev", "谢谢")])
    assert "2 added" in cli("manifest", manifest, "--store", s3_url).output
    assert "2 imported" in cli("import", POSE_DIR, "--store", s3_url, expect=1).output  # example.pose: 543 points
    info = json.loads(cli("info", "--json", "--store", s3_url).output)
    assert info["store"] == s3_url and info["status"] == {"pending": 0, "ok": 2, "failed": 1, "no_person": 0}
    assert "valid" in cli("validate", "--store", s3_url).output

    store = prep.open_store(s3_url)
    assert store.video(REFINED[1])["split"] == "dev"
    reference = read_pose((POSE_DIR / f"{REFINED[1]}.pose").read_bytes())
    np.testing.assert_array_equal(store.pose(REFINED[1])[1], reference.confidence[:, 0, :553])
    cli("export", "--format", "h5", "--out", tmp_path / "x.h5", "--store", s3_url)
    copy = str(tmp_path / "copy.zarr")
    cli("import", tmp_path / "x.h5", "--store", copy)
    for name in REFINED:
        np.testing.assert_array_equal(prep.open_store(copy).pose(name)[0], store.pose(name)[0])
    stored = objects(s3_url)
    key = s3_url.removeprefix("s3://")
    assert f"{key}/zarr.json" in stored and f"{key}/pose/xyz/zarr.json" in stored
    assert f"{key}.lock" not in stored  # released


def test_the_lock_refuses_a_second_writer_on_s3(s3_url, cli):
    prep.open_store(s3_url, mode="a").close()
    bucket = s3_url.removeprefix("s3://").split("/")[0]
    Location(s3_url).fs.ls(bucket)  # a listing taken before the lock exists must not hide it later
    holder = hold_lock(s3_url)
    try:
        with pytest.raises(StoreLockedError) as err:
            prep.open_store(s3_url, mode="a")
        assert f"pid {holder.pid} on host {socket.gethostname()}" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    with pytest.raises(StoreLockedError, match="stale writer lock"):
        prep.open_store(s3_url, mode="a")
    assert f"pid {holder.pid}" in cli("unlock", "--store", s3_url).output
    with prep.open_store(s3_url, mode="a") as store:
        assert store.writable


def test_storage_options_reach_the_lock_and_zarr(tmp_path, s3_url, s3_endpoint, monkeypatch):
    """With AWS_ENDPOINT_URL pointing at a closed loopback port, only --storage-options can find the server.
    Run as a user would, in a fresh process: no filesystem made earlier under the right endpoint can help."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused at once
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed.getsockname()[1]}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    options = json.dumps({"endpoint_url": s3_endpoint})
    manifest = write_manifest(tmp_path / "m.csv", [("v1", "train", "你好")])
    try:
        done = subprocess.run([sys.executable, "-m", "prep", "manifest", manifest, "--store", s3_url,
                               "--storage-options", options], capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        with pytest.raises(EndpointConnectionError):  # the variable alone leads nowhere
            s3fs.S3FileSystem(skip_instance_cache=True).ls(s3_url.removeprefix("s3://"))
    finally:
        closed.close()
    store = prep.open_store(s3_url, storage_options={"endpoint_url": s3_endpoint})
    assert store.ids == ["v1"] and validate(store) == []


def test_clear_errors_for_a_missing_bucket_and_a_bucket_root(s3_url, cli):
    missing = "s3://no-such-bucket-mmprep/test.zarr"
    with pytest.raises(StoreError, match=r"cannot create the writer lock s3://no-such-bucket-mmprep/test.zarr.lock"):
        prep.open_store(missing, mode="a")
    assert "no mmprep store at s3://no-such-bucket-mmprep/test.zarr" in cli("info", "--store", missing, expect=1).output
    bucket = s3_url.removeprefix("s3://").split("/")[0]
    assert "is a bucket; put the store under a prefix" in cli("info", "--store", f"s3://{bucket}", expect=1).output


def test_missing_credentials_are_a_clear_error(s3_url, cli, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup: loopback only
    # anon=false is the default, named here so that no filesystem made earlier (with credentials) is reused
    result = cli("info", "--store", s3_url, "--storage-options", '{"anon": false}', expect=1)
    assert f"Error: cannot reach {s3_url}: Unable to locate credentials. Check the credentials" in result.output
