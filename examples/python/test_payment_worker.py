"""payment_worker.py under faults: three workers as processes, 5 lock nodes
and a data node (real redis-server processes on free loopback ports), the
leader SIGKILLed mid-stream, and a leader paused between its leadership
check and its write (SIGSTOP) until a newer leader has written.

    bindings/python/.venv/bin/python -m pytest -q examples/python

Asserts every payment settled exactly once, in the ledger and in the audit
log of accepted writes, that accepted terms never decrease, and that the
paused ex-leader's write was refused by the fence (so the fence was tested,
not merely present).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, Iterator, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "payment_worker.py")
PAYMENTS = [f"pay-{i:03d}" for i in range(1, 61)]
PAUSE_AT = "pay-040"  # the leader that reaches it pauses just before its write
TTL_MS = 1500
BOUND_S = 60  # liveness bound, generous: the machine may be busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port: int, *args: str):
    """One RESP command over a plain socket: the test reads the data node
    without going through the worker's own client."""
    out = [b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(out))
        f = s.makefile("rb")

        def reply():
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest.decode()
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2].decode()
            if kind == b"*":
                return [reply() for _ in range(int(rest))]
            raise AssertionError(f"redis answered {line!r}")

        return reply()


class Node:
    """A redis-server on a free loopback port, stopped by pid."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="redlead-payments-")
        for _ in range(20):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port),
                 "--bind", "127.0.0.1", "--dir", self.dir, "--save", "", "--appendonly", "no",
                 "--logfile", "redis.log"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if command(self.port, "PING") == "PONG":
                        return
                except OSError:
                    time.sleep(0.02)
            self.stop()
        raise RuntimeError("could not start redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class Worker:
    def __init__(self, wid: str, nodes: List[Node], data: Node, marker: str) -> None:
        self.id = wid
        env = dict(os.environ, PAYMENT_WORKER_PAUSE_AT=f"{PAUSE_AT}:{marker}")
        self.proc = subprocess.Popen(
            [sys.executable, WORKER, "--id", wid, "--nodes", ",".join(n.url for n in nodes),
             "--data", data.url, "--ttl-ms", str(TTL_MS), "--work-ms", "20"],
            stdout=subprocess.PIPE, text=True, env=env)
        self.lines: List[str] = []
        self.events: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())
            self.events.put(line.strip())

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)  # by pid


def wait_for(what: str, cond, timeout: float = BOUND_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def cluster() -> Iterator[tuple]:
    nodes = [Node() for _ in range(5)]
    data = Node()  # not a lock node: the protected resource lives apart
    try:
        yield nodes, data
    finally:
        for n in nodes + [data]:
            n.stop()
            shutil.rmtree(n.dir, ignore_errors=True)


def ledger(data: Node) -> Dict[str, str]:
    flat = command(data.port, "HGETALL", "payments:ledger")
    return dict(zip(flat[::2], flat[1::2]))


def test_each_payment_settled_once_across_a_crash_and_a_paused_leader(cluster):
    nodes, data = cluster
    command(data.port, "RPUSH", "payments:queue", *PAYMENTS)
    marker = os.path.join(data.dir, "paused-once")  # one worker pauses, not each in turn
    workers = [Worker(f"worker-{c}", nodes, data, marker) for c in "abc"]
    try:
        # 1. Crash: SIGKILL the leader once it settled some payments, so that
        # it dies mid-stream (possibly in the middle of one).
        wait_for("10 payments settled", lambda: len(ledger(data)) >= 10)
        settled_at_kill = len(ledger(data))
        leader_id = command(data.port, "LINDEX", "payments:log", "-1").split()[2]  # "<payment> <term> <worker>"
        crashed = next(w for w in workers if w.id == leader_id)
        crashed.signal(signal.SIGKILL)
        crashed.proc.wait(timeout=10)
        print(f"killed {crashed.id} after {settled_at_kill} payments")
        assert settled_at_kill < len(PAYMENTS), "the crash must happen mid-stream"

        # 2. Pause: the leader that reaches PAUSE_AT stops itself between its
        # is_leader check and its write. Its lease runs out, another worker
        # leads, settles PAUSE_AT with a newer term; then the paused one
        # resumes and tries to write with its old term.
        paused = wait_for("a worker pauses", lambda: next(
            (w for w in workers if w is not crashed and any(x.startswith("pausing") for x in w.lines)), None))
        paused_term = int(next(x for x in paused.lines if x.startswith("pausing")).split()[2])
        wait_for(f"{PAUSE_AT} settled by a newer term",
                 lambda: PAUSE_AT in ledger(data) and int(ledger(data)[PAUSE_AT].split()[0]) > paused_term)
        paused.signal(signal.SIGCONT)
        stale = wait_for("the paused worker's write is answered", lambda: next(
            (x for x in paused.lines if x.startswith(("stale", "settled", "skipped"))
             and x.split()[1] == PAUSE_AT), None))
        print(f"paused {paused.id} in term {paused_term}; on resuming: {stale!r}")
        assert stale.startswith("stale "), f"the fence let an ex-leader's write through: {stale!r}"

        # 3. Everything gets settled.
        wait_for("every payment settled", lambda: len(ledger(data)) == len(PAYMENTS))
        time.sleep(0.3)  # a late duplicate would land now
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.signal(signal.SIGCONT)
                w.signal(signal.SIGTERM)
        for w in workers:
            try:
                w.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.signal(signal.SIGKILL)
                w.proc.wait()

    led = ledger(data)
    log = [x.split() for x in command(data.port, "LRANGE", "payments:log", "0", "-1")]
    # Exactly once: every payment in the ledger, and the audit log of
    # accepted writes names each payment once (the ledger, a hash, would
    # hide a second write of the same payment).
    assert sorted(led) == PAYMENTS
    assert sorted(p for p, _, _ in log) == PAYMENTS, "a payment was accepted twice or never"
    assert command(data.port, "LLEN", "payments:queue") == 0
    # No stale write accepted: terms of accepted writes never decrease.
    terms = [int(t) for _, t, _ in log]
    assert terms == sorted(terms), f"an older term wrote after a newer one: {terms}"
    # The fence did refuse something (the paused worker), and at least three
    # terms wrote (first leader, after the crash, after the pause).
    assert int(command(data.port, "GET", "payments:stale") or 0) >= 1
    assert len(set(terms)) >= 3, f"terms that wrote: {sorted(set(terms))}"
    # The survivors stopped cleanly on SIGTERM (the crashed one by SIGKILL).
    for w in workers:
        if w is not crashed:
            assert w.proc.returncode == 0, f"{w.id} exited with {w.proc.returncode}"
    print(f"{len(log)} payments settled once each by terms {sorted(set(terms))}; "
          f"{command(data.port, 'GET', 'payments:stale')} stale write(s) refused")
