"""Python peers on the same nodes: pottery.Redlock over all nodes, and
redis-py's Lock on ONE node (not Redlock: a lower bound for a Python lock).
Installed by scripts/bench.sh into a scratch venv, never vendored.

prints `BENCH pottery ...` and `BENCH redis-py-1node ...`.
"""

import os
import time
from urllib.parse import urlparse

import redis
from pottery import Redlock


def report(name, xs):
    xs = sorted(xs)
    n = len(xs)
    print(f"BENCH {name} n={n} p50_us={xs[n // 2]:.1f} p99_us={xs[int(n * 0.99)]:.1f}", flush=True)


def timed(fn, k):
    out = []
    for _ in range(k):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1000)
    return out


def main():
    urls = [urlparse(u) for u in os.environ["BENCH_URLS"].split(",")]
    n = int(os.environ.get("BENCH_N", "3000"))
    masters = {redis.Redis(host=u.hostname, port=u.port) for u in urls}
    pl = Redlock(key="bench-pottery", masters=masters, auto_release_time=10)

    def pottery_once():
        assert pl.acquire(blocking=False)
        pl.release()

    one = redis.Redis(host=urls[0].hostname, port=urls[0].port)

    def redispy_once():
        lk = one.lock("bench-redispy", timeout=10)
        assert lk.acquire(blocking=False)
        lk.release()

    timed(redispy_once, 200)
    report("redis-py-1node", timed(redispy_once, n))
    # pottery is ~20x slower; fewer samples keep the run short.
    k = max(100, n // 10)
    timed(pottery_once, 20)
    report("pottery", timed(pottery_once, k))


if __name__ == "__main__":
    main()
