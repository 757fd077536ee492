"""Acquire + release latency from Python, next to its floor and its peers,
all measured in the same run on the same 5 local redis-server nodes.

    python bindings/python/bench/bench.py [N]

Needs the package installed (tests/run.sh does it) and, for the peers,
`pip install pottery redis` (installed here when missing). Prints figures;
it is not a pass/fail test.

- floor:   PING all 5 nodes in parallel, time to the 3rd reply (Rust, one
           multiplexed connection per node). Acquire + release is two quorum
           round trips, so 2 x floor is the least it can cost.
- rust-loop: the same acquire + release loop as one async loop inside Rust.
- rust:    each acquire + release its own block_on from the calling thread,
           GIL released: what a Python call does minus Python; the binding
           overhead is python - rust.
- python:  client.try_acquire(...).release() from Python.
- asyncio: await client.try_acquire_async(...); await lock.release_async().
- pottery: pottery.Redlock over the same 5 nodes.
- redis-py: redis.lock.Lock on ONE node (not Redlock; a lower bound for it).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from conftest import RedisNode  # noqa: E402  (the tests' node starter)

import redlead  # noqa: E402
from redlead import _redlead  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def line(name, xs, note=""):
    print(f"{name:<10} p50 {pct(xs, 0.5):8.1f} us   p99 {pct(xs, 0.99):8.1f} us   n={len(xs)}  {note}")
    return pct(xs, 0.5)


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1000)
    return out


def main(n: int) -> None:
    try:
        import pottery  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pottery", "redis"])
    import redis
    from pottery import Redlock

    nodes = [RedisNode() for _ in range(5)]
    try:
        urls = [nd.url for nd in nodes]
        client = redlead.Client(urls)
        warm = max(50, n // 10)

        _redlead._floor_ping(urls, warm)
        floor = line("floor", _redlead._floor_ping(urls, n), "(PING 5 nodes, 3rd reply)")

        _redlead._bench_rust(client, "bench-rust", warm)
        line("rust-loop", _redlead._bench_rust(client, "bench-rust", n), "(one async loop inside Rust)")

        def py_once():
            client.try_acquire("bench-py", ttl_ms=10_000).release()

        # Interleaved one by one, so that load from anything else on the
        # machine hits both sides alike.
        _redlead._bench_rust(client, "bench-rust", warm, blocking=True)
        timed(py_once, warm)
        rust_xs, py_xs = [], []
        for _ in range(n):
            rust_xs += _redlead._bench_rust(client, "bench-rust", 1, blocking=True)
            py_xs += timed(py_once, 1)
        rust = line("rust", rust_xs, "(block_on per acquire and per release, from this thread)")
        py = line("python", py_xs, "(try_acquire + release, interleaved with rust)")
        line("py-loop", timed(py_once, n), "(the same in a tight loop)")

        # Everything a blocking call does except the network: Python -> Rust,
        # argument checks, GIL release, block_on on the runtime, the error
        # object back (extend of a released lock fails before sending).
        gone = client.try_acquire("bench-gone", ttl_ms=10_000)
        gone.release()

        def call_only():
            try:
                gone.extend()
            except redlead.Closed:
                pass

        timed(call_only, warm)
        call = line("call", timed(call_only, n * 5), "(one blocking call minus the network)")

        async def aio(k):
            out = []
            for _ in range(k):
                t = time.perf_counter_ns()
                lock = await client.try_acquire_async("bench-aio", ttl_ms=10_000)
                await lock.release_async()
                out.append((time.perf_counter_ns() - t) / 1000)
            return out

        asyncio.run(aio(warm))
        line("asyncio", asyncio.run(aio(n)), "(try_acquire_async + release_async)")

        masters = {redis.Redis(host="127.0.0.1", port=nd.port) for nd in nodes}
        pl = Redlock(key="bench-pottery", masters=masters, auto_release_time=10)

        def pottery_once():
            assert pl.acquire(blocking=False)
            pl.release()

        timed(pottery_once, warm)
        pot = line("pottery", timed(pottery_once, n), "(pottery.Redlock, 5 nodes)")

        r1 = redis.Redis(host="127.0.0.1", port=nodes[0].port)

        def redispy_once():
            lk = r1.lock("bench-redispy", timeout=10)
            assert lk.acquire(blocking=False)
            lk.release()

        timed(redispy_once, warm)
        rpy = line("redis-py", timed(redispy_once, n), "(redis.lock.Lock, 1 node)")

        print()
        overhead = py - rust
        print(f"binding overhead (python p50 - rust p50, 2 calls): {overhead:.1f} us   "
              f"per-call cost without network: {call:.1f} us   target <= 15 us   "
              f"{'OK' if overhead <= 15 else 'MISSED (end to end)'}; "
              f"{'OK' if 2 * call <= 15 else 'MISSED'} (2 x per-call)")
        bound = 1.5 * 2 * floor
        print(f"python p50 {py:.1f} us vs 1.5 x (2 x floor) = {bound:.1f} us   "
              f"{'OK' if py <= bound else 'MISSED'}")
        print(f"python p50 vs pottery p50: {py:.1f} vs {pot:.1f} us ({pot / py:.1f}x)   "
              f"{'OK' if py < pot else 'MISSED'}")
        print(f"python p50 vs redis-py Lock p50: {py:.1f} vs {rpy:.1f} us ({rpy / py:.1f}x)   "
              f"{'OK' if py < rpy else 'MISSED'}")
        print(f"(cores: {os.cpu_count()}; redis-server x5 on loopback in this run)")
    finally:
        for nd in nodes:
            nd.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
