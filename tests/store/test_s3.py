"""Stores on S3, against a local moto server (tests/conftest.py: s3_endpoint, s3_url); never a real endpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import s3fs
import torch
from botocore.exceptions import EndpointConnectionError
from click.testing import CliRunner
from helpers import FIXTURES, closed_port, hold_lock, new_bucket, stop_process_group, use_local_s3, write_manifest

import prep
from prep.cli import main
from prep.data.dataset import PoseDataset, collate
from prep.errors import StoreError, StoreLockedError
from prep.interop.pose_format import read_pose
from prep.store import Location, validate
from prep.train import checkpoint

POSE_DIR = FIXTURES / "pose"
REFINED = ["6fb01565da31c5500d1ef2cd2906b06b", "7731febd6afbbe90f806a4434c282016"]


def objects(url: str) -> list[str]:
    bucket = url.removeprefix("s3://").split("/")[0]
    return sorted(s3fs.S3FileSystem(skip_instance_cache=True).find(bucket))


def test_manifest_import_info_validate_export_on_s3(tmp_path, s3_url, cli):
    manifest = write_manifest(tmp_path / "m.csv", [(REFINED[0], "train", "你好"), (REFINED[1], "dev", "谢谢")])
    assert "2 added" in cli("manifest", manifest, "--store", s3_url).output
    output = cli("import", POSE_DIR, "--store", s3_url).output
    assert "3 imported" in output and "note: 1 video(s): the iris points were stored as missing" in output  # example
    info = json.loads(cli("info", "--json", "--store", s3_url).output)
    assert info["store"] == s3_url and info["status"] == {"pending": 0, "ok": 3, "failed": 0, "no_person": 0}
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
    closed = closed_port()
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


# ---------------------------------------------------------------------------------------------- the pipeline on S3
@pytest.fixture(scope="module")
def text_on_s3(s3_endpoint, tiny_mt5, tmp_path_factory) -> tuple[str, str]:
    """(S3 url, local url): the same synth store made twice, on S3 and in a local folder, each given its text
    features by `mmprep encode-text` and its mask_init by `mmprep init-mask`."""
    local = str(tmp_path_factory.mktemp("twin") / "synth.zarr")
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_local_s3(monkeypatch, s3_endpoint)
        remote = f"s3://{new_bucket()}/synth.zarr"
        for url in (local, remote):
            for args in (
                ["synth", url, "--videos", "32", "--vocab", "6", "--ambiguous-pairs", "1", "--text-ratio", "0.5"],
                ["encode-text", "--store", url, "--model", str(tiny_mt5)],
                ["init-mask", "--store", url],
            ):
                result = CliRunner().invoke(main, args, catch_exceptions=False)
                assert result.exit_code == 0, result.output
    return remote, local


def test_encode_text_and_init_mask_on_s3_match_a_local_store(text_on_s3, s3_env):
    remote, local = (prep.open_store(url) for url in text_on_s3)
    assert remote.text_generation == local.text_generation == 1
    np.testing.assert_array_equal(remote.has_text, local.has_text)
    np.testing.assert_array_equal(remote.text_features, local.text_features)
    np.testing.assert_array_equal(remote.mask_init, local.mask_init)
    assert remote.mask_init_info["current"] and remote.mask_init_info["stats"] == local.mask_init_info["stats"]
    assert validate(remote) == []


def test_dataloader_worker_processes_read_an_s3_store(text_on_s3, s3_env):
    """Without the cache every batch is read from S3, in forked DataLoader workers (which need their own
    connection: an s3fs filesystem cannot cross a fork)."""
    remote, local = (PoseDataset(url, split=None, cache=False) for url in text_on_s3)
    ours = list(torch.utils.data.DataLoader(remote, batch_size=8, num_workers=2, collate_fn=collate))
    theirs = list(torch.utils.data.DataLoader(local, batch_size=8, collate_fn=collate))
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs, strict=True):
        assert a["ids"] == b["ids"]
        torch.testing.assert_close(a["keypoints"], b["keypoints"], rtol=0, atol=0)
        torch.testing.assert_close(a["text"], b["text"], rtol=0, atol=0)


def flags(options: dict) -> list[str]:
    return [f for name, value in options.items() for f in (f"--{name.replace('_', '-')}", str(value))]


def test_train_storage_options_are_a_json_object_that_config_toml_can_record(tmp_path, cli):
    from prep.train.config import load_toml, resolve, to_toml

    assert (
        "expected a JSON object" in cli("train", "--out", tmp_path / "a", "--storage-options", "[1]", expect=2).output
    )
    assert "not valid JSON" in cli("info", "--storage-options", "{", expect=2).output
    output = cli("train", "--out", tmp_path / "a", "--storage-options", '{"anon": null}', expect=1).output
    assert "storage_options.anon: None is not of type" in output  # TOML has no null: config.toml could not hold it
    assert not (tmp_path / "a").exists()
    options = {"endpoint_url": "http://127.0.0.1:9000", "client_kwargs": {"region_name": "é"}, "retries": [1, 2.5]}
    (tmp_path / "config.toml").write_text(to_toml(resolve({}, {"storage_options": options})), encoding="utf-8")
    assert load_toml(tmp_path / "config.toml")["storage_options"] == options


def test_training_on_s3_stops_and_resumes_with_the_recorded_storage_options(text_on_s3, s3_env, tmp_path,
                                                                            monkeypatch, cli):  # fmt: skip
    """Only --storage-options finds the server (AWS_ENDPOINT_URL points at a closed port): the first run gets
    them as a flag, the resumed run from its config.toml. (That a resume continues exactly is shown in
    tests/train/test_train.py; that the S3 store reads as its local copy, above.)"""
    from train_helpers import FAST, interrupt_at_batch, step_losses

    remote, _ = text_on_s3
    closed = closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed.getsockname()[1]}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()  # no filesystem made earlier, under the right endpoint, can help
    run = tmp_path / "s3"
    storage = ["--storage-options", json.dumps({"endpoint_url": s3_env})]
    options = flags({**FAST, "max_steps": 6, "eval_max_videos": 2})
    try:
        with monkeypatch.context() as interrupted:
            interrupt_at_batch(interrupted, 4)  # the first batch check, then steps 1-3: Ctrl-C during step 3
            cli("train", "--store", remote, *storage, "--out", run, *options, "-q", expect=130)
        assert checkpoint.load(run)["progress"]["step"] == 3
        assert f'storage_options = {{"endpoint_url" = "{s3_env}"}}' in (run / "config.toml").read_text()
        cli("train", "--resume", run, "-q")
    finally:
        closed.close()
    assert list(step_losses(run)) == [1, 2, 3, 4, 5, 6]


def test_torchrun_ranks_each_read_their_share_from_s3(text_on_s3, s3_env, tmp_path):
    """Two processes under torchrun, each opening the S3 store with the run's --storage-options (the AWS_*
    endpoint is a closed port) and training on videos read from it. (How the ranks share an epoch is shown in
    tests/train/test_train.py.)"""
    remote, _ = text_on_s3
    run = tmp_path / "ddp"
    closed = closed_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed.getsockname()[1]}"}  # fmt: skip
    options = {"backbone": "tiny", "tiny_d_model": 32, "tiny_layers": 1, "tiny_heads": 2, "batch_size": 4,
               "max_target_length": 16, "eval_max_videos": 2, "log_every": 1, "max_steps": 2}  # fmt: skip
    mmprep = Path(sys.executable).with_name("mmprep")
    torchrun = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--no-python",
                                 mmprep, "train", "--store", remote, "--storage-options",
                                 json.dumps({"endpoint_url": s3_env}), "--out", run, *flags(options), "-q"],
                                env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        _, stderr = torchrun.communicate(timeout=300)
    finally:
        stop_process_group(torchrun)  # its ranks too, should the test fail or time out
        closed.close()
    assert torchrun.returncode == 0, stderr[-3000:]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (shards,) = [m for m in records if m.get("event") == "epoch_end"]
    assert len(shards["videos_per_process"]) == 2 and all(shards["videos_per_process"])  # both ranks trained
