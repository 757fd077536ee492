"""Cross-language election candidate in Python over the redlead wheel
(tests/cross-language/README.md has the protocol and the argument).

    python candidate.py ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...

Same behaviour as c/candidate.c: while leading, one O_APPEND write of
"<term> <id> <seq> <t0_ns> <t1_ns>" per tick; commands on stdin, one reply
line each on stdout.
"""

import os
import queue
import sys
import threading
import time

import redlead


def reply(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    if len(sys.argv) < 7:
        sys.stderr.write("usage: candidate.py ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...\n")
        return 2
    cid, record, resource = sys.argv[1], sys.argv[2], sys.argv[3]
    ttl_ms, node_timeout_ms = int(sys.argv[4]), int(sys.argv[5])
    # O_APPEND: the kernel orders all processes' records by their write calls.
    fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    client = redlead.Client(sys.argv[6:], node_timeout_ms=node_timeout_ms)
    election = client.elect(resource, cid, ttl_ms=ttl_ms)
    reply(f"ready {cid}")

    # stdin is read on a thread of its own; the commands are executed on the
    # main thread, the one that appends, so nothing is appended for a term
    # after `resign` returned.
    commands: "queue.Queue[str | None]" = queue.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            commands.put(line)
        commands.put(None)  # EOF: the driver went away

    threading.Thread(target=read_stdin, daemon=True).start()

    held = None
    seq = 0
    while True:
        try:
            line = commands.get(timeout=0.005)
        except queue.Empty:
            line = ""
        if line is None:
            break
        words = line.split()
        if words:
            cmd, arg = words[0], words[1] if len(words) > 1 else ""
            num = int(words[2]) if len(words) > 2 else 1000
            try:
                if cmd == "resign":
                    reply("resigned 1" if election.resign() else "resigned 0")
                elif cmd in ("lock", "try"):
                    lock = client.try_acquire(arg, ttl_ms=num)
                    if lock is None:
                        reply("not-acquired")
                    else:
                        if cmd == "try":
                            lock.release()  # a winning try fails the driver's check
                        else:
                            held = lock
                        reply("acquired")
                elif cmd == "unlock":
                    if held is None:
                        raise redlead.Closed("no lock held")
                    lock, held = held, None
                    lock.release()
                    reply("released")
                elif cmd == "quit":
                    break
                else:
                    reply(f"error unknown command {cmd}")
            except redlead.RedleadError as e:
                reply(f"error {type(e).__name__}: {e}")
        # term, is_leader, term: True belongs to term1 only if the term did
        # not change around it (terms never repeat).
        t0 = time.monotonic_ns()  # CLOCK_MONOTONIC on Linux, shared by every process
        term1 = election.term
        leading = election.is_leader
        term2 = election.term
        t1 = time.monotonic_ns()
        if term1 and leading and term1 == term2:
            seq += 1
            os.write(fd, f"{term1} {cid} {seq} {t0} {t1}\n".encode())
    election.stop()
    os.close(fd)
    reply("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
