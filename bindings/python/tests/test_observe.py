"""Observing who holds a resource without campaigning (redlead._redlead.Observer)."""

import threading
import time

import pytest

import redlead
from redlead._redlead import Observer


def test_observer_follows_the_holder_a_quorum_agrees_on(client, res):
    lock = client.try_acquire(res, ttl=5, owner="obs-a")
    assert lock is not None
    # A poll interval far longer than the test: only the first poll and the
    # release announcements can explain what it sees.
    with redlead.Observer(client, res, poll_interval=600) as obs:
        assert obs.resource == res
        assert obs.leader == "obs-a"
        lock.release()
        assert obs.wait_for_change(2), "the release was not seen"
        assert obs.leader is None
        # After the quick follow-up polls that come after an announcement
        # (about 130 ms), only the poll interval could show a new holder.
        time.sleep(0.3)
        nxt = client.try_acquire(res, ttl=5, owner="obs-b")
        # Acquisitions are not announced: with this poll interval, nothing
        # tells the observer within the timeout.
        assert not obs.wait_for_change(timeout_ms=200)
        assert obs.leader is None
        nxt.release()
    assert "Observer" in repr(obs)


def test_observer_sees_an_election_handover(client, res):
    a = client.elect(res, "cand-a", ttl=0.9)
    assert _wait(lambda: a.is_leader)
    b = client.elect(res, "cand-b", ttl=0.9)
    obs = Observer(client, res, poll_interval_ms=600_000)
    try:
        assert obs.leader == "cand-a"
        seen = []
        done = threading.Event()

        def watch():
            while obs.wait_for_change(timeout_ms=3000):
                seen.append(obs.leader)
                if obs.leader == "cand-b":
                    break
            done.set()

        t = threading.Thread(target=watch)
        t.start()
        assert a.resign()
        assert done.wait(5)
        t.join()
        assert seen[-1] == "cand-b", seen
        assert b.is_leader
    finally:
        obs.stop()
        obs.stop()  # idempotent
        a.stop()
        b.stop()
    assert not obs.wait_for_change(timeout_ms=100), "a stopped observer reports no change"


def test_observer_bad_input(client):
    with pytest.raises(redlead.InvalidArgument):
        Observer(client, "")
    with pytest.raises(redlead.InvalidArgument, match="poll_interval_ms"):
        Observer(client, "r", poll_interval_ms=0)
    with pytest.raises(redlead.InvalidArgument, match="poll_interval"):
        Observer(client, "r", poll_interval=0)
    with pytest.raises(TypeError, match="not both"):
        Observer(client, "r", poll_interval=1, poll_interval_ms=1000)
    with pytest.raises(TypeError):
        Observer("not a client", "r")  # type: ignore[arg-type]


def _wait(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False
