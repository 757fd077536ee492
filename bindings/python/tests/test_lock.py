"""The lock API against 5 real redis-server nodes."""

import time

import pytest

import redlead


def test_try_acquire_returns_a_lock_then_none_while_held(client, res):
    lock = client.try_acquire(res, ttl_ms=10_000, fencing=True)
    assert isinstance(lock, redlead.Lock)
    assert lock.resource == res
    assert lock.key == f"redlead:{{{res}}}"
    assert lock.is_held
    assert 9_000 < lock.validity_ms <= 10_000
    assert isinstance(lock.fencing_token, int) and lock.fencing_token >= 1
    assert len(lock.outcomes) == 5
    assert client.try_acquire(res, ttl_ms=10_000) is None
    lock.release()
    assert not lock.is_held
    again = client.try_acquire(res, ttl_ms=10_000)
    assert again is not None
    again.release()


def test_lock_value_is_stored_on_a_quorum(client, nodes, res):
    lock = client.try_acquire(res, ttl_ms=5_000)
    values = [n.cmd("GET", lock.key) for n in nodes]
    assert sum(v == lock.value for v in values) >= 3
    lock.release()
    time.sleep(0.05)  # the two nodes past the quorum finish in the background
    assert all(n.cmd("GET", lock.key) is None for n in nodes)


def test_fencing_tokens_strictly_increase(client, res):
    tokens = []
    for _ in range(5):
        lock = client.try_acquire(res, ttl_ms=5_000, fencing=True)
        tokens.append(lock.fencing_token)
        lock.release()
    assert tokens == sorted(tokens) and len(set(tokens)) == 5


def test_unfenced_lock_has_no_token(client, res):
    lock = client.try_acquire(res, ttl_ms=5_000)
    assert lock.fencing_token is None
    lock.release()


def test_acquire_raises_not_acquired_with_outcomes_when_the_wait_runs_out(client, res):
    held = client.try_acquire(res, ttl_ms=10_000)
    t = time.monotonic()
    with pytest.raises(redlead.NotAcquired) as ei:
        client.acquire(res, ttl_ms=10_000, wait_ms=300)
    assert time.monotonic() - t < 2.0
    e = ei.value
    assert isinstance(e, redlead.RedleadError)
    assert res in str(e) and "held by another" in str(e)
    assert len(e.outcomes) == 5
    assert all(isinstance(n, str) and isinstance(o, str) for n, o in e.outcomes)
    held.release()


def test_acquire_waits_for_a_release(client, res):
    held = client.try_acquire(res, ttl_ms=300)
    t = time.monotonic()
    lock = client.acquire(res, ttl_ms=5_000, wait_ms=3_000)
    assert time.monotonic() - t >= 0.1
    assert lock.is_held
    lock.release()
    with pytest.raises(redlead.LockLost):
        held.release()  # it had expired: the holder learns it overlapped


def test_extend_moves_the_validity(client, res):
    lock = client.try_acquire(res, ttl_ms=1_000)
    time.sleep(0.3)
    assert lock.validity_ms < 750
    v = lock.extend(ttl_ms=5_000)
    assert 4_500 < v <= 5_000
    assert lock.extensions == 1
    assert lock.extend() <= 1_000  # default: the acquire ttl
    lock.release()


def test_release_twice_raises_closed_and_extend_after_release_too(client, res):
    lock = client.try_acquire(res, ttl_ms=5_000)
    lock.release()
    with pytest.raises(redlead.Closed):
        lock.release()
    with pytest.raises(redlead.Closed):
        lock.extend()


def test_release_after_expiry_raises_lock_lost(client, res):
    lock = client.try_acquire(res, ttl_ms=200)
    time.sleep(0.4)
    assert not lock.is_held
    with pytest.raises(redlead.LockLost) as ei:
        lock.release()
    assert len(ei.value.outcomes) == 5


def test_extend_after_takeover_raises_lock_lost(client, nodes, res):
    lock = client.try_acquire(res, ttl_ms=5_000)
    for n in nodes:
        n.cmd("SET", lock.key, "someone-else")
    with pytest.raises(redlead.LockLost):
        lock.extend()
    assert lock.is_lost and not lock.is_held
    for n in nodes:
        n.cmd("DEL", lock.key)


def test_lock_context_manager_auto_extends_and_releases(client, nodes, res):
    with client.lock(res, ttl_ms=300, wait_ms=1_000) as lock:
        assert lock.fencing_token is None  # unfenced unless asked, as everywhere
        time.sleep(1.0)  # > 3 ttls: only auto-extension keeps it
        assert lock.is_held
        assert lock.extensions >= 2
        assert client.try_acquire(res, ttl_ms=1_000) is None
    assert not lock.is_held
    time.sleep(0.05)
    assert all(n.cmd("GET", lock.key) is None for n in nodes)


def test_lock_context_manager_raises_lock_lost_when_lost_inside(client, nodes, res):
    with pytest.raises(redlead.LockLost):
        with client.lock(res, ttl_ms=600, wait_ms=1_000) as lock:
            for n in nodes:
                n.cmd("SET", lock.key, "intruder")
            time.sleep(0.5)  # the next auto-extension finds the key taken
    for n in nodes:
        n.cmd("DEL", lock.key)


def test_lock_context_manager_does_not_mask_the_body_exception(client, nodes, res):
    with pytest.raises(KeyError):
        with client.lock(res, ttl_ms=600) as lock:
            for n in nodes:
                n.cmd("DEL", lock.key)
            raise KeyError("body")


def test_lock_context_manager_stops_extending_at_max_hold(client, res):
    with pytest.raises(redlead.LockLost):
        with client.lock(res, ttl_ms=300, max_hold_ms=400) as lock:
            time.sleep(0.9)
            assert not lock.is_held


def test_lock_context_manager_raises_not_acquired_when_held(client, res):
    held = client.try_acquire(res, ttl_ms=5_000)
    with pytest.raises(redlead.NotAcquired):
        with client.lock(res, ttl_ms=1_000, wait_ms=100):
            pytest.fail("entered a held lock")
    held.release()


def test_released_inside_the_block_is_fine(client, res):
    with client.lock(res, ttl_ms=1_000) as lock:
        lock.release()
    assert not lock.is_held


def test_lock_object_is_a_context_manager(client, res):
    with client.try_acquire(res, ttl_ms=2_000) as lock:
        assert lock.is_held
    assert not lock.is_held


def test_owner_label_is_readable_by_anyone(client, res):
    lock = client.try_acquire(res, ttl_ms=5_000, owner="worker-7")
    assert client.holder(res) == "worker-7"
    lock.release()
    assert client.holder(res) is None


def test_garbage_collected_lock_is_released(client, res):
    client.try_acquire(res, ttl_ms=10_000)  # dropped at once
    lock = client.acquire(res, ttl_ms=1_000, wait_ms=2_000)
    assert lock.is_held
    lock.release()


def test_client_reports_nodes_quorum_and_ping(client, urls):
    assert client.quorum == 3
    assert len(client.nodes) == 5
    assert all(o == "ok" for _, o in client.ping())
    assert "quorum=3" in repr(client)


def test_exception_hierarchy():
    assert issubclass(redlead.InvalidArgument, redlead.RedleadError)
    assert issubclass(redlead.InvalidArgument, ValueError)
    assert issubclass(redlead.ConnectionError, redlead.RedleadError)
    assert issubclass(redlead.ConnectionError, ConnectionError)
    for e in (redlead.NotAcquired, redlead.LockLost, redlead.Closed):
        assert issubclass(e, redlead.RedleadError)
    assert redlead.NotAcquired.__module__ == "redlead"


def test_public_names_have_docstrings():
    for name in redlead.__all__:
        if name == "__version__":
            continue
        obj = getattr(redlead, name)
        assert obj.__doc__, name
    for cls in (redlead.Client, redlead.Lock, redlead.Election):
        for attr in dir(cls):
            if attr.startswith("_"):
                continue
            assert getattr(cls, attr).__doc__, f"{cls.__name__}.{attr}"


def test_quorum_lost_raises_connection_error(urls, nodes, res):
    # Three of five nodes down: no quorum can answer.
    for n in nodes[:3]:
        n.stop()
    try:
        c = redlead.Client(urls, node_timeout_ms=50, connect_timeout_ms=100)
        with pytest.raises(redlead.ConnectionError) as ei:
            c.try_acquire(res, ttl_ms=2_000)
        assert isinstance(ei.value, ConnectionError)
        assert len(ei.value.outcomes) == 5
    finally:
        for n in nodes[:3]:
            n.restart()


def test_two_nodes_down_still_reach_quorum(urls, nodes, res):
    for n in nodes[:2]:
        n.stop()
    try:
        c = redlead.Client(urls, node_timeout_ms=50, connect_timeout_ms=100)
        lock = c.try_acquire(res, ttl_ms=2_000)
        assert lock is not None and lock.is_held
        lock.release()
    finally:
        for n in nodes[:2]:
            n.restart()
