"""Safety holes found by driving the package as a user would (issue 8):
forked workers, a forked leader, and a lock lost inside ``with``."""

import os
import signal
import time

import pytest

import redlead

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def _child(work) -> int:
    """Runs ``work()`` in a forked child; returns what it wrote, or -1."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = b""
        try:
            out = work()
        finally:
            os.write(w, out)
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data


@needs_fork
def test_forked_workers_never_share_a_lock_value(client, urls, res):
    # A prefork server: the parent uses the library once, then forks workers
    # that each build a client and lock. Equal values would let one worker's
    # release delete another's key.
    client.try_acquire(res + "-warm", ttl_ms=1_000).release()

    def worker() -> bytes:
        c = redlead.Client(urls)
        lock = c.try_acquire(res + "-" + str(os.getpid()), ttl_ms=2_000)
        value = lock.value if lock is not None else ""
        if lock is not None:
            lock.release()
        return value.encode()

    values = [_child(worker).decode() for _ in range(2)]
    mine = client.try_acquire(res + "-parent", ttl_ms=1_000)
    values.append(mine.value)
    mine.release()
    print("values:", values)
    assert all(len(v) == 32 for v in values), values
    assert len(set(values)) == 3, f"lock values repeat across forked processes: {values}"


@needs_fork
def test_forked_leader_child_never_reports_leadership(urls, res):
    c = redlead.Client(urls)
    leader = c.elect(res, "parent", ttl_ms=2_000)
    deadline = time.monotonic() + 5
    while not leader.is_leader:
        assert time.monotonic() < deadline, "not elected"
        time.sleep(0.01)
    lock = c.try_acquire(res + "-lock", ttl_ms=5_000, fencing=True)
    assert lock.is_held and lock.fencing_token

    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        report = b"?"
        try:
            os.read(go_r, 1)  # wait until the parent resigned
            report = repr((leader.is_leader, leader.term, lock.is_held,
                           lock.fencing_token, lock.validity_ms, leader.is_healthy)).encode()
        finally:
            os.write(w, report)
            os._exit(0)
    os.close(w)
    try:
        other = c.elect(res, "other", ttl_ms=2_000)
        assert leader.resign()
        deadline = time.monotonic() + 5
        while not other.is_leader:
            assert time.monotonic() < deadline, "no takeover after resign"
            time.sleep(0.01)
        os.write(go_w, b"x")
        report = os.read(r, 4096).decode()
        print("child saw (is_leader, term, is_held, token, validity_ms, healthy):", report)
        assert report == repr((False, None, False, None, 0, False))
    finally:
        os.waitpid(pid, 0)
        other.stop()
        leader.stop()
        lock.release()


def test_with_lock_lost_inside_raises_lock_lost_even_when_nodes_do_not_answer(client, nodes, res):
    frozen = nodes[:3]
    with pytest.raises(redlead.LockLost) as info:
        with client.lock(res, ttl_ms=600, wait_ms=1_000, max_hold_ms=600):
            for n in frozen:
                os.kill(n.proc.pid, signal.SIGSTOP)
            try:
                time.sleep(0.9)  # past the validity, nothing can extend it
            finally:
                pass
    for n in frozen:
        os.kill(n.proc.pid, signal.SIGCONT)
    print("exit raised:", info.value)


def test_release_after_loss_raises_lock_lost(client, nodes, res):
    lock = client.try_acquire(res, ttl_ms=500)
    frozen = nodes[:3]
    for n in frozen:
        os.kill(n.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(0.7)
        with pytest.raises(redlead.LockLost) as info:
            lock.release()
    finally:
        for n in frozen:
            os.kill(n.proc.pid, signal.SIGCONT)
    assert len(info.value.outcomes) == 5
