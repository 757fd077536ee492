"""The Python door: try_acquire + release (blocking, fenced) and the asyncio
pair, through the installed `redlead` package.

    BENCH_URLS=redis://127.0.0.1:p1,... BENCH_N=3000 python door_python.py
prints `BENCH python ...`, `BENCH python-fenced ...`, `BENCH asyncio ...`.

With BENCH_CONTENDERS=k it instead runs k asyncio tasks on distinct
resources for BENCH_SECONDS (default 3) and prints
`TPUT python-asyncio k=.. ops_s=..`.
"""

import asyncio
import os
import time

import redlead


def report(name, xs):
    xs = sorted(xs)
    n = len(xs)
    print(f"BENCH {name} n={n} p50_us={xs[n // 2]:.1f} p99_us={xs[int(n * 0.99)]:.1f}", flush=True)


async def throughput(client, k, seconds):
    until = time.monotonic() + seconds

    async def contender(i):
        done = 0
        while time.monotonic() < until:
            lock = await client.try_acquire_async(f"bench-tput-py-{i}", ttl_ms=10_000)
            assert lock is not None, "bench resource held elsewhere"
            await lock.release_async()
            done += 1
        return done

    t = time.monotonic()
    total = sum(await asyncio.gather(*(contender(i) for i in range(k))))
    return total / (time.monotonic() - t)


def main():
    urls = os.environ["BENCH_URLS"].split(",")
    n = int(os.environ.get("BENCH_N", "3000"))
    client = redlead.Client(urls)
    k = os.environ.get("BENCH_CONTENDERS")
    if k:
        ops = asyncio.run(throughput(client, int(k), float(os.environ.get("BENCH_SECONDS", "3"))))
        print(f"TPUT python-asyncio k={k} ops_s={ops:.0f}", flush=True)
        return

    def once(resource, fencing):
        t = time.perf_counter_ns()
        lock = client.try_acquire(resource, ttl_ms=10_000, fencing=fencing)
        assert lock is not None, "bench resource held elsewhere"
        lock.release()
        return (time.perf_counter_ns() - t) / 1000

    async def aio(k):
        out = []
        for _ in range(k):
            t = time.perf_counter_ns()
            lock = await client.try_acquire_async("bench-aio", ttl_ms=10_000)
            assert lock is not None
            await lock.release_async()
            out.append((time.perf_counter_ns() - t) / 1000)
        return out

    for _ in range(200):
        once("bench-py", False)
        once("bench-py-fenced", True)
    asyncio.run(aio(200))
    plain, fenced = [], []
    for _ in range(n):
        plain.append(once("bench-py", False))
        fenced.append(once("bench-py-fenced", True))
    report("python", plain)
    report("python-fenced", fenced)
    report("asyncio", asyncio.run(aio(n)))


if __name__ == "__main__":
    main()
