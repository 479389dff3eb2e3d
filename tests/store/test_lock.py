"""The writer lock, with real second processes."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from helpers import hold_lock

import prep
from prep.errors import StoreLockedError


@pytest.fixture
def holder(store_url):
    """A second process that holds the store's writer lock until killed."""
    prep.open_store(store_url, mode="a").close()
    proc = hold_lock(store_url)
    yield proc
    proc.kill()
    proc.wait()


def test_second_writer_is_refused_naming_the_holder(store_url, holder, cli):
    with pytest.raises(StoreLockedError) as err:
        prep.open_store(store_url, mode="a")
    message = str(err.value)
    assert f"pid {holder.pid}" in message and socket.gethostname() in message and "since 20" in message
    # Readers are never blocked.
    assert prep.open_store(store_url).ids == []
    # A live holder is not broken without --force.
    result = cli("unlock", "--store", store_url, expect=1)
    assert "still running" in result.output


def test_stale_lock_is_detected_and_broken_explicitly(store_url, holder, cli):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with pytest.raises(StoreLockedError, match=r"stale writer lock.*no longer running.*mmprep unlock"):
        prep.open_store(store_url, mode="a")
    result = cli("unlock", "--store", store_url)
    assert f"pid {holder.pid}" in result.output
    with prep.open_store(store_url, mode="a") as store:
        store.upsert_rows([{"id": "a"}])
    assert not os.path.exists(store_url + ".lock")


def test_lock_is_released_on_close_and_on_error(store_url):
    with prep.open_store(store_url, mode="a"):
        assert os.path.exists(store_url + ".lock")
    assert not os.path.exists(store_url + ".lock")
    with pytest.raises(RuntimeError), prep.open_store(store_url, mode="a"):
        raise RuntimeError("boom")
    assert not os.path.exists(store_url + ".lock")


def test_a_reused_pid_does_not_keep_a_lock_alive(store_url, tmp_path):
    """A lock naming this very process, but started at another time, belongs to a dead process."""
    import json

    with prep.open_store(store_url, mode="a"):
        pass
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2020-01-01T00:00:00+00:00",
              "process_started": time.time() - 10_000, "command": "mmprep extract", "token": "x"}  # fmt: skip
    with open(store_url + ".lock", "w") as f:
        json.dump(record, f)
    with pytest.raises(StoreLockedError, match="stale"):
        prep.open_store(store_url, mode="a")
