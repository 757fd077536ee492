"""Runs every door of redlead and every peer on the same 5 local
redis-server nodes, in interleaved rounds, with the raw-socket floor run
right before and right after each of them, and prints one table.

    python3 bench/run.py --bin target/bench [--rounds 3] [--n 3000] [--markdown out.md]

Each door is a program that reads BENCH_URLS and BENCH_N and prints
`BENCH <door> n=<n> p50_us=<x> p99_us=<y>` lines (one program may measure
several doors). scripts/bench.sh builds them and the peers, then runs this.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

LINE = re.compile(r"^BENCH (\S+) n=(\d+) p50_us=([\d.]+) p99_us=([\d.]+)")
TPUT = re.compile(r"^TPUT (\S+) k=(\d+) ops_s=([\d.]+)")
FOOTPRINT = re.compile(r"^FOOTPRINT (.*)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """An in-memory redis-server (no persistence, as the peers' own
    benchmarks run it: with fsync the disk is measured, not the lock)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="redlead-bench-")
        for _ in range(20):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--dir", self.dir, "--save", "", "--appendonly", "no",
                 "--loglevel", "warning", "--logfile", "redis.log"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._ready():
                return
        raise RuntimeError("could not start redis-server on a free port")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                time.sleep(0.02)
        return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Door:
    """A program and the doors it prints."""
    label: str
    argv: list[str]
    cwd: str | None = None


@dataclass
class Figures:
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    floor2x: list[float] = field(default_factory=list)  # bracketing floor per round


def run(argv, env, cwd=None, timeout=600) -> list[str]:
    out = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    return out.stdout.splitlines()


def node_cpu_s(nodes) -> float:
    """CPU seconds (user + system) the nodes' redis-server processes used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for n in nodes:
        with open(f"/proc/{n.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def children_cpu_s() -> float:
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def floor2x(floor_bin, env) -> float:
    for line in run([floor_bin], dict(env, BENCH_N=str(min(1000, int(env["BENCH_N"]))))):
        m = LINE.match(line)
        if m and m.group(1) == "floor2x":
            return float(m.group(3))
    raise RuntimeError("the floor printed no floor2x line")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="folder with floor, door-rust, door_c, ...")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--contenders", type=int, default=64)
    ap.add_argument("--locks", type=int, default=1000, help="locks held by the footprint run")
    ap.add_argument("--hold", type=int, default=10, help="seconds the footprint run holds them")
    ap.add_argument("--markdown", help="also write the table here")
    ap.add_argument("doors", nargs="*", help="only these programs (labels)")
    args = ap.parse_args()
    b = os.path.abspath(args.bin)
    here = os.path.dirname(os.path.abspath(__file__))

    candidates = [
        Door("rust", [f"{b}/door-rust"]),
        Door("c", [f"{b}/door_c"]),
        Door("python", [f"{b}/venv/bin/python", f"{here}/doors/door_python.py"]),
        Door("go", [f"{b}/door-go"]),
        Door("dotnet", ["mono", f"{b}/dotnet/Bench.exe"]),
        Door("rslock", [f"{b}/rslock"]),
        Door("python-peers", [f"{b}/venv-peers/bin/python", f"{here}/peers/peers_python.py"]),
        Door("node-redlock", ["node", f"{b}/node/node_redlock.mjs"]),
    ]
    doors = []
    for d in candidates:
        prog = d.argv[-1] if d.argv[0] in ("mono", "node") or d.argv[0].endswith("python") else d.argv[0]
        exe = d.argv[0]
        if args.doors and d.label not in args.doors:
            continue
        if not (os.path.exists(prog) and (shutil.which(exe) or os.path.exists(exe))) or (
            d.cwd and not os.path.isdir(d.cwd)
        ):
            print(f"(skipped {d.label}: {prog} not built)", file=sys.stderr)
            continue
        doors.append(d)

    nodes = [Node() for _ in range(5)]
    try:
        env = dict(os.environ, BENCH_URLS=",".join(n.url for n in nodes), BENCH_N=str(args.n))
        figures: dict[str, Figures] = {}
        order: list[str] = []
        for r in range(args.rounds if doors else 0):
            # Rotate the order each round so no door always runs first.
            rot = doors[r % len(doors):] + doors[: r % len(doors)]
            for d in rot:
                before = floor2x(f"{b}/floor", env)
                lines = run(d.argv, env, cwd=d.cwd)
                after = floor2x(f"{b}/floor", env)
                for line in lines:
                    m = LINE.match(line)
                    if not m:
                        continue
                    name = m.group(1)
                    if name not in figures:
                        figures[name] = Figures()
                        order.append(name)
                    f = figures[name]
                    f.p50.append(float(m.group(3)))
                    f.p99.append(float(m.group(4)))
                    f.floor2x.append((before + after) / 2)
                print(f"round {r + 1}: {d.label} done (floor2x {before:.0f} -> {after:.0f} us)",
                      file=sys.stderr, flush=True)
        tput = []
        labels = [d.label for d in doors]
        contenders = []
        if "rust" in labels:
            contenders.append(("Rust API, one current-thread runtime", [f"{b}/door-rust"], {"BENCH_ONE_THREAD": "1"}))
            contenders.append(("Rust API, two current-thread runtimes on two threads, a client each",
                               [f"{b}/door-rust"], {"BENCH_RUNTIMES": "2"}))
            contenders.append(("Rust API, 2-worker runtime", [f"{b}/door-rust"], {}))
        if "python" in labels:
            contenders.append(("Python asyncio", next(d.argv for d in doors if d.label == "python"), {}))
        for name, argv, extra in contenders if args.contenders else []:
            # Who saturates: CPU used by the nodes and by the door over the run.
            n0, c0, w0 = node_cpu_s(nodes), children_cpu_s(), time.monotonic()
            lines = run(argv, dict(env, BENCH_CONTENDERS=str(args.contenders), **extra))
            wall = time.monotonic() - w0
            nodes_cpu, door_cpu = node_cpu_s(nodes) - n0, children_cpu_s() - c0
            for line in lines:
                m = TPUT.match(line)
                if m:
                    tput.append(f"{name}, {m.group(2)} contenders on distinct resources: "
                                f"{float(m.group(3)):,.0f} acquire+release/s; CPU over the run: "
                                f"5 nodes {nodes_cpu / wall:.2f} cores, the door {door_cpu / wall:.2f} cores "
                                f"(of {os.cpu_count()})")
        if os.path.exists(f"{b}/footprint") and (not args.doors or "footprint" in args.doors):
            fp = [FOOTPRINT.match(line).group(1) for line in run(
                [f"{b}/footprint"], dict(env, LOCKS=str(args.locks), HOLD_S=str(args.hold)))
                if FOOTPRINT.match(line)]
            tput += ["", f"C ABI footprint, one client holding {args.locks} auto-extended locks "
                     f"(ttl 3 s, extended every 1 s) for {args.hold} s:", ""] + [f"    {x}" for x in fp]
    finally:
        for n in nodes:
            n.stop()

    def rng(xs, fmt="{:.0f}"):
        lo, hi = min(xs), max(xs)
        return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"

    rows = ["| door | p50 us | p99 us | x floor2x (p50) |", "|---|---|---|---|"]
    for name in order:
        f = figures[name]
        ratios = [p / fl for p, fl in zip(f.p50, f.floor2x)]
        rows.append(f"| {name} | {rng(f.p50)} | {statistics.median(f.p99):.0f} | {rng(ratios, '{:.2f}')} |")
    all_floor = [x for f in figures.values() for x in f.floor2x] or [float("nan")]
    head = (f"{args.rounds} interleaved rounds, {args.n} samples per door per round (pottery: n/10), "
            f"5 local in-memory redis-server nodes, acquire+release unfenced unless named; "
            f"floor2x = 2 quorum PING round trips by a raw-socket C client, run before and after "
            f"each door ({min(all_floor):.0f}-{max(all_floor):.0f} us here). "
            f"Machine: {os.cpu_count()} cores, {platform.platform()}, {time.strftime('%Y-%m-%d')}.")
    text = "\n".join([head, ""] + rows + ([""] + tput if tput else []))
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
