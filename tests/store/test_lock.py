"""The writer lock, with real second processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
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


def test_a_dead_holders_lock_is_taken_over_by_the_next_writer(store_url, holder, capsys):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with prep.open_store(store_url, mode="a") as store:
        store.upsert_rows([{"id": "a"}])
    said = capsys.readouterr().err
    assert f"took over the writer lock of pid {holder.pid} on host {socket.gethostname()}, since 20" in said
    assert "no longer running" in said and said.count("\n") == 1
    assert not os.path.exists(store_url + ".lock")
    assert prep.open_store(store_url).ids == ["a"]


def test_lock_is_released_on_close_and_on_error(store_url):
    with prep.open_store(store_url, mode="a"):
        assert os.path.exists(store_url + ".lock")
    assert not os.path.exists(store_url + ".lock")
    with pytest.raises(RuntimeError), prep.open_store(store_url, mode="a"):
        raise RuntimeError("boom")
    assert not os.path.exists(store_url + ".lock")


def write_lock(url: str, **record) -> None:
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2020-01-01T00:00:00+00:00",
              "process_started": time.time(), "command": "mmprep extract", "token": "x", **record}  # fmt: skip
    with open(url + ".lock", "w") as f:
        json.dump(record, f)


def test_a_reused_pid_does_not_keep_a_lock_alive(store_url, capsys):
    """A lock naming this very process, but started at another time, belongs to a dead process."""
    prep.open_store(store_url, mode="a").close()
    write_lock(store_url, process_started=time.time() - 10_000)
    prep.open_store(store_url, mode="a").close()
    assert f"took over the writer lock of pid {os.getpid()}" in capsys.readouterr().err


def test_a_holder_on_another_host_needs_an_explicit_unlock(store_url, cli):
    prep.open_store(store_url, mode="a").close()
    write_lock(store_url, pid=4242, host="elsewhere")
    with pytest.raises(StoreLockedError) as err:
        prep.open_store(store_url, mode="a")
    message = str(err.value)
    assert "pid 4242 on host elsewhere" in message and "another host" in message
    assert "cannot be checked from here" in message
    assert f"mmprep unlock --force --store {store_url}" in message
    assert "cannot be checked from here" in cli("unlock", "--store", store_url, expect=1).output
    assert "broke the lock of pid 4242 on elsewhere" in cli("unlock", "--force", "--store", store_url).output
    prep.open_store(store_url, mode="a").close()


# A racer tries to take the lock on each "go" line. Once it holds the lock file's flock, before it reads the
# record there, it says "inside" and waits for the test's next line: every racer has tried by then, so they all
# contend for the lock at once, and a lock that let two in would show two "inside" (each racer answers once).
RACER = """
import sys, time, prep
from prep.errors import StoreLockedError
from prep.store import lock

is_at = lock._is_at
def is_at_when_told(fd, path):
    print("inside", flush=True)
    sys.stdin.readline()
    lock._is_at = is_at  # once per attempt
    return is_at(fd, path)

print("ready", flush=True)
while sys.stdin.readline():  # each line: one attempt at the lock
    lock._is_at = is_at_when_told
    try:
        store = prep.open_store(sys.argv[1], mode="a")
    except StoreLockedError as e:
        print("refused", flush=True)
        continue
    print("won", flush=True)
    time.sleep(600)  # hold it until killed
"""


def tell(racer: subprocess.Popen) -> None:
    racer.stdin.write("go\n")
    racer.stdin.flush()


def test_writers_racing_for_a_dead_holders_lock_never_both_get_it(store_url, holder):
    """Real processes race for the lock each time its holder is killed: exactly one of them gets in, and the
    others are refused while it is still inside."""
    racers = [subprocess.Popen([sys.executable, "-c", RACER, store_url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]  # fmt: skip
    try:
        assert all(r.stdout.readline().strip() == "ready" for r in racers)
        dead = holder
        while racers:
            dead.kill()
            dead.wait()
            for racer in racers:
                tell(racer)
            answers = [r.stdout.readline().strip() for r in racers]
            assert sorted(answers) == ["inside"] + ["refused"] * (len(racers) - 1), answers
            dead = racers[answers.index("inside")]
            tell(dead)  # now it takes over the dead holder's lock, and is the next one killed
            assert dead.stdout.readline().strip() == "won"
            racers.remove(dead)
        dead.kill()
        _, said = dead.communicate()
        assert "took over the writer lock of pid" in said
    finally:
        for racer in racers:
            racer.kill()
            racer.wait()
