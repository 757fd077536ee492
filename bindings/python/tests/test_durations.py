"""Durations in seconds (int, float, datetime.timedelta) as Python libraries
take them, and the older milliseconds under the ``*_ms`` keywords."""

import datetime

import pytest

import redlead

INV = redlead.InvalidArgument


def test_seconds_and_timedelta_and_milliseconds_give_the_same_ttl(client, res):
    for kwargs in ({"ttl": 2}, {"ttl": 2.0}, {"ttl": datetime.timedelta(seconds=2)}, {"ttl_ms": 2_000}):
        lock = client.try_acquire(res, **kwargs)
        assert lock is not None, kwargs
        assert lock.ttl == 2.0 and lock.ttl_ms == 2_000, kwargs
        assert 1.5 < lock.validity <= 2.0 and isinstance(lock.validity, float)
        assert abs(lock.validity * 1000 - lock.validity_ms) < 50
        lock.release()


def test_fractional_seconds_reach_the_nodes_as_milliseconds(client, nodes, res):
    lock = client.try_acquire(res, ttl=1.5)
    pttl = [n.cmd("PTTL", lock.key) for n in nodes]
    assert all(1_000 < p <= 1_500 for p in pttl if p > 0) and sum(p > 0 for p in pttl) >= 3, pttl
    lock.release()


def test_extend_returns_seconds_or_milliseconds_as_asked(client, res):
    lock = client.try_acquire(res, ttl=1)
    v = lock.extend(ttl=3)
    assert isinstance(v, float) and 2.5 < v <= 3.0
    v = lock.extend(ttl_ms=4_000)
    assert isinstance(v, int) and 3_500 < v <= 4_000
    assert lock.extend() <= 1.0  # the acquire's ttl
    lock.release()


def test_acquire_wait_in_seconds_bounds_the_wait(client, res):
    import time

    held = client.try_acquire(res, ttl=10)
    t = time.monotonic()
    with pytest.raises(redlead.NotAcquired):
        client.acquire(res, ttl=5, wait=datetime.timedelta(milliseconds=300))
    assert 0.2 < time.monotonic() - t < 2.0
    held.release()


@pytest.mark.parametrize("kwargs", [{"ttl": 1, "ttl_ms": 1000}, {"ttl": 1, "ttl_ms": 1}])
def test_both_forms_at_once_is_a_type_error(client, res, kwargs):
    with pytest.raises(TypeError, match="ttl .*ttl_ms.*not both"):
        client.try_acquire(res, **kwargs)


def test_both_forms_at_once_is_refused_everywhere(urls, client, res):
    with pytest.raises(TypeError, match="node_timeout"):
        redlead.Client(urls, node_timeout=0.05, node_timeout_ms=50)
    with pytest.raises(TypeError, match="wait"):
        client.lock(res, wait=1, wait_ms=1000)
    with pytest.raises(TypeError, match="renew_interval"):
        client.elect(res, "a", renew_interval=1, renew_interval_ms=1000)


@pytest.mark.parametrize(
    "value, exc, words",
    [
        (0, INV, "ttl must be greater than 0"),
        (-1, INV, "ttl=-1 seconds"),
        (float("nan"), INV, "NaN"),
        (float("inf"), INV, "24 h"),
        (90_000, INV, "ttl=90000 seconds"),
        (10**30, INV, "24 h"),
        (datetime.timedelta(days=2), INV, "datetime.timedelta(days=2)"),
        (datetime.timedelta(seconds=-1), INV, "negative"),
        (True, TypeError, "ttl must be a number of seconds"),
        ("10", TypeError, "not str"),
        ([1], TypeError, "not list"),
    ],
)
def test_bad_seconds_are_refused_by_the_cores_rules_with_the_given_value(client, res, value, exc, words):
    with pytest.raises(exc) as ei:
        client.try_acquire(res, ttl=value)
    assert words in str(ei.value), str(ei.value)


def test_client_and_election_take_seconds(urls, res):
    c = redlead.Client(urls, node_timeout=0.05, connect_timeout=datetime.timedelta(milliseconds=500),
                       retry_delay=0.02, retry_jitter=0)
    with pytest.raises(INV, match="node_timeout"):
        redlead.Client(urls, node_timeout=0)
    with pytest.raises(INV, match="renew_interval"):
        c.elect(res, "a", ttl=1, renew_interval=2)
    e = c.elect(res, "a", ttl=1, renew_interval=0.3, retry_interval=0.2, step_down_margin=0.1)
    e.stop()


def test_durations_are_keyword_only(client, res):
    # A positional 10_000 meant milliseconds before; now it would mean
    # seconds, so it is refused rather than read silently either way.
    with pytest.raises(TypeError):
        client.try_acquire(res, 10_000)
    with pytest.raises(TypeError):
        client.lock(res, 10, 2)
