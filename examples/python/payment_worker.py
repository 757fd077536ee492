"""A payment worker: several copies run, only the elected leader processes
payments, and no payment is processed twice across a failover.

    python payment_worker.py --id worker-a \\
        --nodes redis://10.0.0.1:6379,redis://10.0.0.2:6379,redis://10.0.0.3:6379 \\
        --data redis://10.0.0.9:6379

Payments wait in a Redis list (`payments:queue`) on a data node that is not
one of the lock nodes. The leader peeks at the head, processes it, and
settles it with one Lua script on the data node that

  - refuses the write if the leader's term (its fencing token) is older than
    the newest term the ledger has accepted (a paused ex-leader waking up);
  - refuses it if the payment is no longer at the head (settled already);
  - otherwise records the payment in the ledger, raises the fence to the
    term and pops the payment, all at once (a script runs atomically).

A leader that crashes before the script leaves the payment at the head for
the next leader; after it, the payment is settled and gone. So each payment
is settled exactly once, and an ex-leader's late write is refused by the
fence, not by luck. Leadership alone cannot promise that: a process can be
paused between its is_leader check and its write (README.md).

Lines on stdout, for the operator (and the test): `elected <term>`,
`revoked <term> <reason>`, `settled <payment> <term>`,
`stale <payment> <term> <fence>`, `skipped <payment> <term> not-head`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from typing import List, Optional
from urllib.parse import urlparse

import redlead

QUEUE = "payments:queue"
LEDGER = "payments:ledger"    # hash: payment id -> "<term> <worker>"
FENCE = "payments:fence"      # the newest term the ledger accepted
ACCEPTED = "payments:log"     # list: every accepted write, in order (an audit trail)
REJECTED = "payments:stale"   # counter of writes refused by the fence

# KEYS: fence, ledger, queue, log, stale counter. ARGV: term, payment, worker.
# One script, so the fence check, the ledger write and the pop are atomic: no
# other write can come between them.
SETTLE = """
local term = tonumber(ARGV[1])
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if term < fence then
  redis.call('INCR', KEYS[5])
  return {'stale', tostring(fence)}
end
if redis.call('LINDEX', KEYS[3], 0) ~= ARGV[2] or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return {'not-head', tostring(fence)}
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1] .. ' ' .. ARGV[3])
redis.call('LPOP', KEYS[3])
redis.call('RPUSH', KEYS[4], ARGV[2] .. ' ' .. ARGV[1] .. ' ' .. ARGV[3])
return {'ok', ARGV[1]}
"""


class DataStore:
    """The data node, through a minimal RESP client (so that the example
    needs nothing but the redlead wheel; use redis-py in a real service)."""

    def __init__(self, url: str) -> None:
        u = urlparse(url)
        self.addr = (u.hostname or "127.0.0.1", u.port or 6379)
        self.sock: Optional[socket.socket] = None

    def call(self, *args: str):
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=5)
            self.file = self.sock.makefile("rb")
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        try:
            self.sock.sendall(b"".join(out))
            return self._reply()
        except OSError:
            self.sock = None  # reconnect on the next call
            raise

    def _reply(self):
        line = self.file.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def settle(self, term: int, payment: str, worker: str) -> List[str]:
        return self.call("EVAL", SETTLE, "5", FENCE, LEDGER, QUEUE, ACCEPTED, REJECTED,
                         str(term), payment, worker)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def process(payment: str, work_ms: int) -> None:
    """The payment itself (a call to a payment provider in real life)."""
    time.sleep(work_ms / 1000)


def first_to_create(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--id", required=True, help="this worker's candidate id")
    ap.add_argument("--nodes", required=True, help="comma-separated lock nodes (Redlock masters)")
    ap.add_argument("--data", required=True, help="the data node holding queue and ledger")
    ap.add_argument("--ttl-ms", type=int, default=3000, help="leadership lease")
    ap.add_argument("--work-ms", type=int, default=20, help="time to process one payment")
    args = ap.parse_args()

    # Fault injection for the test, "<payment>:<marker file>": pause this
    # process (as a long GC pause or a stalled VM would) right between the
    # leadership check and the write of that payment, the one place where
    # leadership alone cannot help. Only the worker that creates the marker
    # pauses, so the next leader does not pause in turn.
    pause_at, _, pause_marker = os.environ.get("PAYMENT_WORKER_PAUSE_AT", "").partition(":")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    store = DataStore(args.data)
    client = redlead.Client(args.nodes.split(","), node_timeout_ms=200)
    election = client.elect(
        "payments", args.id, ttl_ms=args.ttl_ms,
        on_elected=lambda term: say(f"elected {term}"),
        on_revoked=lambda term, reason: say(f"revoked {term} {reason}"))
    say(f"ready {args.id}")
    try:
        while not stop.is_set():
            term = election.term
            if not term or not election.is_leader:
                stop.wait(0.01)
                continue
            payment = store.call("LINDEX", QUEUE, "0")
            if payment is None:
                stop.wait(0.01)
                continue
            process(payment, args.work_ms)
            # Still leading the same term? If not, the next leader settles
            # this payment. (Necessary, not sufficient: see the fence.)
            if not election.is_leader or election.term != term:
                continue
            if payment == pause_at and first_to_create(pause_marker):
                say(f"pausing {payment} {term}")
                os.kill(os.getpid(), signal.SIGSTOP)
            verdict, fence = store.settle(term, payment, args.id)
            if verdict == "ok":
                say(f"settled {payment} {term}")
            elif verdict == "stale":
                say(f"stale {payment} {term} {fence}")
            else:
                say(f"skipped {payment} {term} {verdict}")
    finally:
        election.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
