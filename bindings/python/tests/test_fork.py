"""A Client made before fork() works in the child (it makes new
connections there, as redis-py's pools do); the parent's locks and
elections stay the parent's and say so in the child."""

import os
import time

import pytest

import redlead
from conftest import wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def in_child(checks) -> int:
    """Runs ``checks()`` in a forked child; returns its exit code (the
    number of the first check that failed, 0 when all passed)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = checks()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), status
    return os.WEXITSTATUS(status)


def test_parents_client_works_in_the_child_and_the_parents_lock_and_election_do_not(urls, res):
    client = redlead.Client(urls, retry_delay=0.02, retry_jitter=0.01)
    lock = client.try_acquire(res + "-held", ttl=10, fencing=True)
    election = client.elect(res + "-elect", "parent", ttl=2)
    assert wait_until(lambda: election.is_leader)

    def checks() -> int:
        # 1-3: the client locks in the child, with a value of its own.
        mine = client.try_acquire(res + "-child", ttl=5, fencing=True)
        if mine is None or not mine.is_held:
            return 1
        if mine.value == lock.value or mine.fencing_token is None:
            return 2
        mine.release()
        if client.try_acquire(res + "-held", ttl=1) is not None:
            return 3  # the parent's lock is still the parent's on the nodes
        # 4-5: the parent's lock is not held here, and cannot be used.
        if lock.is_held or lock.validity != 0:
            return 4
        try:
            lock.release()
            return 5
        except redlead.RedleadError as e:
            if "fork" not in str(e):
                return 5
        # 6-7: the parent's election does not lead here, and cannot be used.
        if election.is_leader or election.term is not None:
            return 6
        try:
            election.resign()
            return 7
        except redlead.RedleadError:
            pass
        # 8: the child campaigns with the same client.
        e = client.elect(res + "-child-elect", "child", ttl=1)
        ok = wait_until(lambda: e.is_leader, timeout=3)
        e.stop()
        return 0 if ok else 8

    t = time.monotonic()
    code = in_child(checks)
    print(f"child ran its checks in {time.monotonic() - t:.2f} s, exit code {code}")
    assert code == 0, f"check {code} failed in the child"
    # The parent's objects are untouched by the child's use of the client.
    assert lock.is_held and election.is_leader
    assert client.try_acquire(res + "-parent-after", ttl=1) is not None
    lock.release()
    election.stop()


def test_a_synchronized_function_defined_before_fork_runs_in_the_child(urls, res):
    client = redlead.Client(urls)
    calls = []

    @client.synchronized(res, ttl=2, wait=1)
    def job():
        calls.append(client.holder(res))
        return "done"

    assert job() == "done"

    def checks() -> int:
        return 0 if job() == "done" else 1

    assert in_child(checks) == 0
    assert job() == "done"
