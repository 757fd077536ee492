"""Leader election with Python callbacks on 5 real nodes."""

import subprocess
import sys
import threading
import time

import pytest

import redlead
from conftest import wait_until


class Recorder:
    def __init__(self, name):
        self.name = name
        self.events = []
        self.threads = set()
        self.lock = threading.Lock()

    def _add(self, ev):
        with self.lock:
            self.events.append(ev)
            self.threads.add(threading.current_thread().ident)

    def kwargs(self):
        return dict(
            on_elected=lambda term: self._add(("elected", term)),
            on_revoked=lambda term, reason: self._add(("revoked", term, reason)),
            on_leader_change=lambda leader: self._add(("leader", leader)),
        )

    def kinds(self):
        with self.lock:
            return [e[0] for e in self.events]


def test_one_leader_and_failover_when_the_leader_stops(client, res):
    ra, rb = Recorder("a"), Recorder("b")
    a = client.elect(res, "a", ttl_ms=1_000, **ra.kwargs())
    assert wait_until(lambda: a.is_leader)
    b = client.elect(res, "b", ttl_ms=1_000, **rb.kwargs())
    assert wait_until(lambda: ("leader", "a") in rb.events)
    assert not b.is_leader and b.term is None
    assert a.term >= 1 and a.leader() == "a" and b.leader() == "a"
    term_a = a.term

    t = time.monotonic()
    a.stop()
    assert not a.is_leader
    assert wait_until(lambda: b.is_leader, timeout=3)
    print(f"failover after stop took {(time.monotonic() - t) * 1000:.0f} ms")
    assert b.term > term_a
    assert ("elected", term_a) in ra.events
    assert ("revoked", term_a, "stopped") in ra.events
    # Callbacks arrive on the library thread, a moment after is_leader flips.
    assert wait_until(lambda: ("elected", b.term) in rb.events)
    assert threading.get_ident() not in ra.threads  # callbacks on a library thread
    b.stop()
    b.stop()  # idempotent


def test_failover_when_the_leader_crashes_without_releasing(client, nodes, res):
    """The leader's process is killed: the follower takes over after the ttl."""
    script = (
        "import sys, time, redlead\n"
        "c = redlead.Client(sys.argv[1:])\n"
        f"e = c.elect({res!r}, 'doomed', ttl_ms=1000)\n"
        "while not e.is_leader: time.sleep(0.01)\n"
        "print('leader', flush=True)\n"
        "time.sleep(60)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script, *[n.url for n in nodes]], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"leader"
        f = client.elect(res, "follower", ttl_ms=1_000)
        assert wait_until(lambda: f.observed_leader == "doomed")
        p.kill()
        t = time.monotonic()
        assert wait_until(lambda: f.is_leader, timeout=5)
        print(f"took over {(time.monotonic() - t) * 1000:.0f} ms after SIGKILL of the leader (ttl 1000 ms)")
        f.stop()
    finally:
        p.kill()
        p.wait()


def test_resign_hands_over_and_reports_false_when_not_leading(client, res):
    ra, rb = Recorder("a"), Recorder("b")
    with client.elect(res, "a", ttl_ms=2_000, **ra.kwargs()) as a:
        assert wait_until(lambda: a.is_leader)
        with client.elect(res, "b", ttl_ms=2_000, **rb.kwargs()) as b:
            assert b.resign() is False
            t = time.monotonic()
            assert a.resign() is True
            assert wait_until(lambda: b.is_leader, timeout=2)
            print(f"handover after resign: {(time.monotonic() - t) * 1000:.0f} ms")
            assert wait_until(lambda: any(
                e[0] == "revoked" and e[2] == "resigned" for e in ra.events
            ))
    with pytest.raises(redlead.Closed):
        a.resign()


def test_an_exception_in_a_callback_does_not_kill_the_election(client, res):
    seen = []

    def boom(term):
        raise RuntimeError("callback failure on purpose")

    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:
        e = client.elect(res, "a", ttl_ms=600, on_elected=boom,
                         on_leader_change=lambda l: (_ for _ in ()).throw(ValueError("also")))
        assert wait_until(lambda: len(seen) >= 2)
        time.sleep(1.0)  # several renewals later it still leads
        assert e.is_leader and e.is_healthy
        e.stop()
    finally:
        sys.unraisablehook = old_hook
    assert any(isinstance(x, RuntimeError) for x in seen)
    assert any(isinstance(x, ValueError) for x in seen)


def test_stop_from_inside_a_callback_raises_instead_of_deadlocking(client, res):
    errors = []
    box = []
    ready = threading.Event()

    def on_elected(term):
        ready.wait(5)
        try:
            box[0].stop()
        except redlead.RedleadError as exc:
            errors.append(exc)

    e = client.elect(res, "a", ttl_ms=1_000, on_elected=on_elected)
    box.append(e)
    ready.set()
    assert wait_until(lambda: errors, timeout=5)
    assert "event handler" in str(errors[0])
    assert e.is_leader  # the failed stop changed nothing
    e.stop()
    assert not e.is_leader


def test_leader_change_is_observed_by_followers(client, res):
    rs = [Recorder(str(i)) for i in range(3)]
    es = [client.elect(res, f"c{i}", ttl_ms=1_000, **r.kwargs()) for i, r in enumerate(rs)]
    assert wait_until(lambda: sum(e.is_leader for e in es) == 1)
    leader = next(e for e in es if e.is_leader)
    assert wait_until(lambda: all(e.observed_leader == leader.id for e in es))
    leader.stop()
    rest = [e for e in es if e is not leader]
    assert wait_until(lambda: sum(e.is_leader for e in rest) == 1, timeout=4)
    new = next(e for e in rest if e.is_leader)
    assert wait_until(lambda: all(e.observed_leader == new.id for e in rest))
    assert sum(e.is_leader for e in es) == 1
    for e in rest:
        e.stop()


def test_interpreter_exit_with_live_elections_does_not_hang(nodes, res):
    script = (
        "import sys, time, redlead\n"
        "c = redlead.Client(sys.argv[1:])\n"
        "got = []\n"
        f"es = [c.elect({res!r} + str(i), 'x', ttl_ms=1000, on_elected=got.append,"
        " on_revoked=lambda t, r: got.append(r)) for i in range(3)]\n"
        "while len(got) < 3: time.sleep(0.01)\n"
        "print('exiting', flush=True)\n"
    )
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script, *[n.url for n in nodes]],
                         capture_output=True, timeout=20)
    print(f"exit with 3 live elections took {time.monotonic() - t:.2f} s")
    assert out.returncode == 0, out.stderr.decode()
    assert b"exiting" in out.stdout
    assert b"Fatal" not in out.stderr and b"panicked" not in out.stderr


def test_forked_child_exits_promptly_with_the_parents_live_election(nodes, res):
    script = (
        "import os, sys, time, redlead\n"
        "c = redlead.Client(sys.argv[1:])\n"
        f"e = c.elect({res!r}, 'parent', ttl_ms=1000)\n"
        "while not e.is_leader: time.sleep(0.01)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print('child leader:', e.is_leader, flush=True)\n"
        "    try:\n"
        "        e.stop()\n"
        "    except redlead.RedleadError as err:\n"
        "        print('child:', 'fork' in str(err), flush=True)\n"
        "    sys.exit(0)  # runs atexit: must not wait on the parent's election\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print('parent: child status', status, 'still leader', e.is_leader, flush=True)\n"
    )
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script, *[n.url for n in nodes]],
                         capture_output=True, timeout=20)
    took = time.monotonic() - t
    print(f"fork + child exit + parent exit took {took:.2f} s")
    assert out.returncode == 0, out.stderr.decode()
    assert b"child leader: False" in out.stdout
    assert b"child: True" in out.stdout
    assert b"parent: child status 0 still leader True" in out.stdout
    assert took < 5
