import contextlib
import socket
import warnings

from prep.cluster import WorkerSetup, connect


def test_a_second_run_at_once_does_not_fight_over_the_http_port():
    """dask's scheduler serves a small HTTP app even without a dashboard, on 8787 unless told otherwise: a
    second mmprep run beside a first one warned "Port 8787 is already in use". It takes a free loopback port."""
    with contextlib.ExitStack() as stack:
        held = stack.enter_context(socket.socket())
        with contextlib.suppress(OSError):  # taken already by someone else: the same situation
            held.bind(("127.0.0.1", 8787))
            held.listen()
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        client = stack.enter_context(connect(WorkerSetup(("distributed",), {}, retries_after_crash=1), 1))
        host, port = client.run_on_scheduler(
            lambda dask_scheduler: (dask_scheduler.http_server.address, dask_scheduler.http_server.port)
        )
    assert (host, port != 8787) == ("127.0.0.1", True)
    assert not [w for w in caught if "already in use" in str(w.message)]
