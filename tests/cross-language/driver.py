"""Drives one election across five languages (C, C++, Python, Go, C#) on five
real redis-server nodes, then checks the shared leader record.

Run through run.sh, which builds the candidates first:

    python driver.py --out DIR --lib LIBDIR --python VENV_PYTHON

Phases (README.md in this directory has the argument):
  1. lock: each language takes resource L in turn; every other language's
     try-acquire must answer not-acquired; the key and value on the nodes
     are the same whoever holds it.
  2. election: the five candidates campaign for resource R; the driver finds
     the leader from the record file and in turn SIGKILLs it (restarting it
     under a new id) or makes it resign, for several rounds and until every
     language has led.
  3. check: record.py on the whole record.

Prints what it injected and what it checked; ends with a summary and exits
non-zero on any failure.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LANGUAGES = ["c", "cpp", "python", "go", "csharp"]

# Election timing: a killed leader blocks the others for about one ttl. The
# node timeout is generous because other builds share this machine's two
# cores: a renewal that misses it only costs a spontaneous step-down
# (safety is checked whatever happens), never a false failure.
TTL_MS = 2000
NODE_TIMEOUT_MS = 250
MIN_KILLS = 5
MIN_RESIGNS = 5
MAX_ACTIONS = 60          # liveness bound: every language must have led by then
ELECTION_BUDGET_S = 120   # ... and within this long
FRESH_NS = 300_000_000    # a record this recent means its writer still leads
FAILOVER_BOUND_S = 3 * TTL_MS / 1000 + 15  # generous: load may slow everything
DWELL_S = 0.3             # each leader leads this long before it is killed or resigns, so
                          # every term leaves many records next to its neighbours'


def now_ns() -> int:
    return time.monotonic_ns()  # CLOCK_MONOTONIC, the candidates' clock


# ---------------------------------------------------------------- redis nodes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port: int, *args: str, timeout: float = 2.0):
    """One RESP command over a plain socket (no client library on purpose:
    the driver looks at the nodes with nothing of redlead in between)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(parts))
        f = s.makefile("rb")
        line = f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        raise RuntimeError(f"redis answered {line!r}")


class RedisNode:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="redlead-xlang-node-")
        self.proc: Optional[subprocess.Popen] = None
        for _ in range(20):
            self.port = free_port()
            if self._spawn():
                return
        raise RuntimeError("could not start redis-server on a free port")

    def _spawn(self) -> bool:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning", "--logfile", "redis.log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # the port was taken meanwhile
            try:
                if command(self.port, "PING", timeout=0.5) == "PONG":
                    return True
            except OSError:
                time.sleep(0.02)
        self.stop()
        return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def cmd(self, *args: str):
        return command(self.port, *args)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # by pid, never by name
            self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- candidates

class Candidate:
    """One candidate process; commands on its stdin, one reply line each."""

    def __init__(self, lang: str, incarnation: int, argv: List[str], env: Dict[str, str],
                 run_dir: str) -> None:
        self.lang = lang
        self.id = f"{lang}-{incarnation}"
        self.incarnation = incarnation
        self.stderr_path = os.path.join(run_dir, f"{self.id}.stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, text=True, bufsize=1)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect_line(self, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"{self.id}: no answer within {timeout:.0f} s ({self.stderr_tail()})")
        if line is None:
            raise Failure(f"{self.id}: exited with {self.proc.wait()} ({self.stderr_tail()})")
        return line

    def send(self, line: str, timeout: float = 15.0) -> str:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Failure(f"{self.id}: gone before {line!r} ({self.stderr_tail()})")
        return self.expect_line(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self) -> str:
        self.stderr.flush()
        try:
            with open(self.stderr_path) as f:
                tail = f.read()[-400:].strip()
        except OSError:
            tail = ""
        return f"stderr: {tail!r}" if tail else "no stderr"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.stderr.close()

    def quit(self, timeout: float = 20.0) -> int:
        """Asks it to stop its election and exit; its exit status."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise Failure(f"{self.id}: did not exit within {timeout:.0f} s of quit")
        finally:
            self.stderr.close()
        return rc


class Failure(Exception):
    pass


class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_dir = os.path.join(args.out, "run")
        shutil.rmtree(self.run_dir, ignore_errors=True)
        os.makedirs(self.run_dir)
        self.record_path = os.path.join(self.run_dir, "leaders.log")
        self.nodes: List[RedisNode] = []
        self.cands: Dict[str, Candidate] = {}  # by language
        self.results: List[tuple] = []  # (name, ok, detail)
        self.env = dict(os.environ)
        # mono's DllImport("redlead") finds libredlead.so through this.
        self.env["LD_LIBRARY_PATH"] = args.lib + (":" + self.env["LD_LIBRARY_PATH"]
                                                  if self.env.get("LD_LIBRARY_PATH") else "")
        self.tail_offset = 0
        self.tail_buf = ""
        self.last: Optional[record.Record] = None
        self.seen_terms: Dict[int, str] = {}

    def result(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    def argv(self, lang: str, cid: str, resource: str) -> List[str]:
        out = self.args.out
        tail = [cid, self.record_path, resource, str(TTL_MS), str(NODE_TIMEOUT_MS)] + \
            [n.url for n in self.nodes]
        return {
            "c": [os.path.join(out, "candidate-c")],
            "cpp": [os.path.join(out, "candidate-cpp")],
            "python": [self.args.python, os.path.join(HERE, "python", "candidate.py")],
            "go": [os.path.join(out, "candidate-go")],
            "csharp": ["mono", os.path.join(out, "candidate-csharp.exe")],
        }[lang] + tail

    def start(self, lang: str, incarnation: int, resource: str) -> Candidate:
        cid = f"{lang}-{incarnation}"
        c = Candidate(lang, incarnation, self.argv(lang, cid, resource), self.env, self.run_dir)
        line = c.expect_line(timeout=60)  # mono and python start slowly under load
        if line != f"ready {cid}":
            raise Failure(f"{cid}: expected 'ready {cid}', got {line!r}")
        self.cands[lang] = c
        return c

    # ------------------------------------------------------------ lock phase

    def lock_phase(self) -> None:
        print("== lock: each language holds L in turn; the others' try-acquire must fail", flush=True)
        res = "xl-lock-" + uuid.uuid4().hex[:8]
        key = f"redlead:{{{res}}}"  # the documented key format, the same from every language
        shapes = set()
        for holder in LANGUAGES:
            h = self.cands[holder]
            ans = h.send(f"lock {res} 10000")
            if not self.result(f"lock_{holder}_acquires_free_L", ans == "acquired", ans):
                continue
            # The value on the nodes: one 128-bit hex token on a quorum (the
            # acquire returns at the quorum; the rest follow), whoever wrote it.
            values = [n.cmd("GET", key) for n in self.nodes]
            top = max(set(values), key=values.count)
            ok = top is not None and values.count(top) >= 3 and re.fullmatch(r"[0-9a-f]{32}", top)
            self.result(f"lock_{holder}_value_on_a_quorum", bool(ok), f"{key} = {values}")
            shapes.add(re.sub(r"[0-9a-f]", "x", top or ""))
            for other in LANGUAGES:
                if other == holder:
                    continue
                ans = self.cands[other].send(f"try {res} 1000")
                self.result(f"lock_{holder}_excludes_{other}", ans == "not-acquired", ans)
            ans = h.send("unlock")
            self.result(f"lock_{holder}_releases", ans == "released", ans)
            # The release returns at a quorum; wait a little for the rest.
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and any(n.cmd("EXISTS", key) for n in self.nodes):
                time.sleep(0.02)
            left = [n.port for n in self.nodes if n.cmd("EXISTS", key)]
            self.result(f"lock_{holder}_leaves_no_key", not left, f"key still on {left}" if left else "")
        self.result("lock_value_format_is_the_same_from_every_language", len(shapes) == 1, str(shapes))
        # Not vacuous: after all this, a try-acquire does succeed.
        ans = self.cands[LANGUAGES[0]].send(f"try {res} 1000")
        self.result("lock_try_acquire_succeeds_once_free", ans == "acquired", ans)

    # -------------------------------------------------------- election phase

    def read_records(self) -> List[record.Record]:
        """New complete records appended since the last call."""
        with open(self.record_path) as f:
            f.seek(self.tail_offset)
            chunk = f.read()
            self.tail_offset = f.tell()
        self.tail_buf += chunk
        *lines, self.tail_buf = self.tail_buf.split("\n")
        out = []
        for line in lines:
            m = record.LINE.fullmatch(line)
            if m:  # malformed lines are record.py's business, at the end
                r = record.Record(int(m[1]), m[2], int(m[3]), int(m[4]), int(m[5]))
                out.append(r)
                self.seen_terms.setdefault(r.term, r.id)
                self.last = r
        return out

    def current_leader(self, timeout: float) -> Optional[record.Record]:
        """The writer of a record appended in the last FRESH_NS, or None."""
        deadline = time.monotonic() + timeout
        while True:
            self.read_records()
            if self.last is not None and now_ns() - self.last.t1 < FRESH_NS:
                return self.last
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)

    def wait_new_term(self, after: int, timeout: float) -> Optional[record.Record]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.read_records():
                if r.term > after:
                    return r
            time.sleep(0.005)
        return None

    def languages_led(self) -> set:
        return {cid.rsplit("-", 1)[0] for cid in self.seen_terms.values()}

    def election_phase(self, resource: str) -> Dict[str, list]:
        print(f"== election on {resource}: kill or resign the leader in turn, ttl {TTL_MS} ms", flush=True)
        failovers: Dict[str, list] = {"kill": [], "resign": []}
        kills = resigns = actions = 0
        not_resigned = 0
        start = time.monotonic()
        while True:
            led = self.languages_led()
            if kills >= MIN_KILLS and resigns >= MIN_RESIGNS and led >= set(LANGUAGES):
                break
            if actions >= MAX_ACTIONS or time.monotonic() - start > ELECTION_BUDGET_S:
                self.result("election_every_language_led", False,
                            f"after {actions} failovers in {time.monotonic() - start:.0f} s "
                            f"only {sorted(led)} led")
                break
            for lang, c in self.cands.items():
                if not c.alive():
                    raise Failure(f"{c.id} exited by itself with {c.proc.returncode} ({c.stderr_tail()})")
            leader = self.current_leader(timeout=FAILOVER_BOUND_S)
            if leader is not None:
                time.sleep(DWELL_S)
                # Whoever leads after the dwell (usually the same candidate).
                leader = self.current_leader(timeout=FAILOVER_BOUND_S)
            if leader is None:
                raise Failure(f"no candidate leads (no record for {FAILOVER_BOUND_S:.0f} s)")
            lang = leader.id.rsplit("-", 1)[0]
            c = self.cands[lang]
            if c.id != leader.id:
                raise Failure(f"a record of {leader.id} is fresh but {lang} runs as {c.id}")
            # Kills take a ttl each; once enough were done, resign only
            # (milliseconds) until every language has led.
            action = "kill" if kills < MIN_KILLS and (actions % 2 == 0 or resigns >= MIN_RESIGNS) \
                else "resign"
            t_action = now_ns()
            if action == "kill":
                c.kill()
                kills += 1
            else:
                ans = c.send("resign")
                if ans == "resigned 0":
                    not_resigned += 1  # it had just stepped down by itself; still a failover
                elif ans != "resigned 1":
                    raise Failure(f"{c.id}: resign answered {ans!r}")
                resigns += 1
            actions += 1
            new = self.wait_new_term(leader.term, FAILOVER_BOUND_S)
            if new is None:
                raise Failure(f"no new term within {FAILOVER_BOUND_S:.0f} s after {action} of {leader.id}")
            ms = (new.t0 - t_action) / 1e6
            failovers[action].append(ms)
            print(f"  {action:6} {leader.id:10} (term {leader.term}) -> {new.id:10} term {new.term}"
                  f" after {ms:7.1f} ms", flush=True)
            if action == "kill":
                # The killed candidate comes back under a new id: a process
                # never reuses another's id or sequence numbers.
                self.start(lang, c.incarnation + 1, resource)
        self.result("election_failovers", kills >= MIN_KILLS and resigns >= MIN_RESIGNS,
                    f"{kills} kills, {resigns} resigns ({not_resigned} found the leader already "
                    f"stepped down) in {time.monotonic() - start:.1f} s")
        return failovers

    # ------------------------------------------------------------------- run

    def run(self) -> int:
        t_start = time.monotonic()
        failovers: Dict[str, list] = {"kill": [], "resign": []}
        try:
            self.nodes = [RedisNode() for _ in range(5)]
            print(f"== 5 redis-server nodes on ports {[n.port for n in self.nodes]}", flush=True)
            resource = "xl-leader-" + uuid.uuid4().hex[:8]
            open(self.record_path, "w").close()
            for lang in LANGUAGES:
                self.start(lang, 1, resource)
            print(f"== candidates running: {[c.id for c in self.cands.values()]}", flush=True)
            self.lock_phase()
            failovers = self.election_phase(resource)
            for lang in LANGUAGES:
                c = self.cands[lang]
                rc = c.quit()
                self.result(f"candidate_{c.id}_stops_cleanly", rc == 0, f"exit status {rc}")
        except Failure as e:
            self.result("driver", False, str(e))
        finally:
            for c in self.cands.values():
                if c.alive():
                    c.kill()
            for n in self.nodes:
                n.stop()

        with open(self.record_path) as f:
            rep = record.check(f.read())
        for v in rep.violations[:20]:
            print("VIOLATION", v)
        self.result("record_no_overlap_terms_increase_one_id_per_term", not rep.violations,
                    f"{len(rep.violations)} violations in {rep.records} records")
        per_lang = rep.language_terms()
        self.result("record_every_language_led", set(per_lang) >= set(LANGUAGES),
                    f"terms led per language: {per_lang}")
        actions = len(failovers["kill"]) + len(failovers["resign"])
        # Each failover starts a new term; fewer terms than failovers + 1
        # would mean the record missed leaderships (a vacuous record).
        self.result("record_has_a_term_per_failover", len(rep.terms) >= actions + 1,
                    f"{len(rep.terms)} terms for {actions} failovers")

        failed = [r for r in self.results if not r[1]]
        print("\n== summary")
        print(f"records: {rep.records} lines, {len(rep.terms)} terms, terms per language {per_lang}")
        for kind, xs in failovers.items():
            if xs:
                print(f"failover after {kind}: n={len(xs)} median {statistics.median(xs):.0f} ms, "
                      f"max {max(xs):.0f} ms")
        print(f"record kept at {self.record_path}")
        print(f"{len(self.results) - len(failed)} passed, {len(failed)} failed "
              f"in {time.monotonic() - t_start:.1f} s")
        for name, _, detail in failed:
            print(f"  FAILED {name}: {detail}")
        return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="where the candidates were built")
    ap.add_argument("--lib", required=True, help="the directory of libredlead.so")
    ap.add_argument("--python", required=True, help="a Python with the redlead package")
    return Driver(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
