"""Bad input is rejected with a clear InvalidArgument or TypeError, never a
crash or a hang."""

import pytest

import redlead

INV = redlead.InvalidArgument


@pytest.mark.parametrize(
    "nodes, kwargs, exc, words",
    [
        ([], {}, INV, "nodes"),
        (["not a url"], {}, INV, "URL"),
        (["http://127.0.0.1:1"], {}, INV, "URL"),
        (["redis://127.0.0.1:1"], {"node_timeout_ms": 0}, INV, "node_timeout_ms"),
        (["redis://127.0.0.1:1"], {"node_timeout_ms": -5}, INV, "node_timeout_ms"),
        (["redis://127.0.0.1:1"], {"node_timeout_ms": 10**12}, INV, "node_timeout_ms"),
        (["redis://127.0.0.1:1"], {"node_timeout_ms": 10**30}, INV, "node_timeout_ms"),
        (["redis://127.0.0.1:1"], {"node_timeout_ms": float("nan")}, INV, "node_timeout_ms"),
        (["redis://127.0.0.1:1"], {"node_timeout_ms": "50"}, TypeError, "node_timeout_ms"),
        (["redis://127.0.0.1:1"], {"retry_delay_ms": -1}, INV, "retry_delay_ms"),
        (["redis://127.0.0.1:1"], {"connect_timeout_ms": 0}, INV, "connect_timeout_ms"),
        (["redis://127.0.0.1:1"], {"drift_factor": 0.7}, INV, "drift_factor"),
        (["redis://127.0.0.1:1"], {"drift_factor": -0.1}, INV, "drift_factor"),
        (["redis://127.0.0.1:1"], {"drift_factor": float("inf")}, INV, "drift_factor"),
        (["redis://127.0.0.1:1"], {"retry_count": 0}, INV, "retry_count"),
        (["redis://127.0.0.1:1"], {"retry_count": -3}, INV, "retry_count"),
    ],
)
def test_client_rejects_bad_settings(nodes, kwargs, exc, words):
    with pytest.raises(exc) as ei:
        redlead.Client(nodes, **kwargs)
    assert words in str(ei.value)


def test_client_rejects_wrong_types():
    with pytest.raises(TypeError):
        redlead.Client("redis://127.0.0.1:1")  # a str, not a list
    with pytest.raises(TypeError):
        redlead.Client([1, 2, 3])
    with pytest.raises(TypeError):
        redlead.Client(None)


@pytest.mark.parametrize(
    "args, kwargs, exc, words",
    [
        (("",), {}, INV, "resource"),
        (("r" * 2000,), {}, INV, "resource"),
        (("r",), {"ttl_ms": 0}, INV, "ttl_ms"),
        (("r",), {"ttl_ms": -1}, INV, "ttl_ms"),
        (("r",), {"ttl_ms": 10**11}, INV, "ttl_ms"),
        (("r",), {"ttl_ms": 10}, INV, "node_timeout"),  # ttl below node_timeout
        (("r",), {"ttl_ms": "10s"}, TypeError, "ttl_ms"),
        (("r",), {"ttl_ms": True}, TypeError, "ttl_ms"),
        ((None,), {}, TypeError, ""),
        ((b"bytes",), {}, TypeError, ""),
        (("r",), {"owner": ""}, INV, "owner"),
        (("r",), {"owner": "x" * 300}, INV, "owner"),
        (("r",), {"owner": "a\0b"}, INV, "NUL"),
    ],
)
def test_try_acquire_rejects_bad_arguments(client, args, kwargs, exc, words):
    with pytest.raises(exc) as ei:
        client.try_acquire(*args, **kwargs)
    assert words in str(ei.value)


def test_acquire_rejects_bad_waits(client, res):
    with pytest.raises(INV, match="wait_ms"):
        client.acquire(res, ttl_ms=1_000, wait_ms=-1)
    with pytest.raises(INV, match="wait_ms"):
        client.acquire(res, ttl_ms=1_000, wait_ms=10**12)
    with pytest.raises(TypeError):
        client.acquire(res, ttl_ms=1_000, wait_ms=[1])


def test_lock_context_rejects_bad_caps(client, res):
    with pytest.raises(INV, match="max_hold_ms"):
        with client.lock(res, ttl_ms=1_000, max_hold_ms=0):
            pass
    with pytest.raises(INV, match="interval"):
        with client.lock(res, ttl_ms=1_000, extend_interval_ms=5_000):
            pass


def test_extend_rejects_bad_ttl(client, res):
    lock = client.try_acquire(res, ttl_ms=2_000)
    with pytest.raises(INV, match="ttl_ms"):
        lock.extend(ttl_ms=0)
    with pytest.raises(TypeError):
        lock.extend(ttl_ms="x")
    lock.release()


def test_elect_rejects_bad_arguments(client, res):
    with pytest.raises(INV, match="resource"):
        client.elect("", "a")
    with pytest.raises(INV, match="candidate|owner"):
        client.elect(res, "")
    with pytest.raises(INV, match="ttl_ms"):
        client.elect(res, "a", ttl_ms=-3)
    with pytest.raises(INV, match="renew_interval"):
        client.elect(res, "a", ttl_ms=1_000, renew_interval_ms=2_000)
    with pytest.raises(TypeError, match="on_elected"):
        client.elect(res, "a", on_elected=42)


def test_unreachable_nodes_fail_fast_not_hang(res):
    import socket
    import time

    ports = []
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    c = redlead.Client([f"redis://127.0.0.1:{p}" for p in ports], connect_timeout_ms=100)
    t = time.monotonic()
    with pytest.raises(redlead.ConnectionError):
        c.try_acquire(res, ttl_ms=1_000)
    assert time.monotonic() - t < 2.0
