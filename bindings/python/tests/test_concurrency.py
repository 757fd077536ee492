"""Mutual exclusion across threads and processes; the GIL is released while
waiting; fork is detected."""

import multiprocessing as mp
import os
import threading
import time

import pytest

import redlead


def test_mutual_exclusion_across_threads(client, res):
    inside = 0
    overlaps = 0
    entries = 0
    guard = threading.Lock()

    def worker():
        nonlocal inside, overlaps, entries
        for _ in range(10):
            with client.lock(res, ttl_ms=2_000, wait_ms=10_000, fencing=False):
                with guard:
                    inside += 1
                    entries += 1
                    overlaps += inside > 1
                time.sleep(0.002)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    print(f"threads: {entries} critical sections, {overlaps} overlaps")
    assert entries == 80
    assert overlaps == 0


def _proc_worker(urls, res, log_path, n):
    c = redlead.Client(urls, retry_delay_ms=10, retry_jitter_ms=10, retry_count=None)
    for _ in range(n):
        with c.lock(res, ttl_ms=2_000, wait_ms=20_000, fencing=True) as lock:
            with open(log_path, "a") as f:
                f.write(f"start {lock.fencing_token} {time.monotonic()}\n")
                f.flush()
            time.sleep(0.003)
            with open(log_path, "a") as f:
                f.write(f"end {lock.fencing_token} {time.monotonic()}\n")


def test_mutual_exclusion_across_processes(urls, res, tmp_path):
    log = tmp_path / "log"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_proc_worker, args=(urls, res, str(log), 8)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lines = log.read_text().split("\n")[:-1]
    assert len(lines) == 64
    # Sections never interleave: every start is followed by its own end, and
    # fencing tokens grow from one section to the next.
    tokens = []
    for a, b in zip(lines[::2], lines[1::2]):
        ka, ta, _ = a.split()
        kb, tb, _ = b.split()
        assert (ka, kb) == ("start", "end") and ta == tb
        tokens.append(int(ta))
    print(f"processes: 32 sections, tokens {tokens[0]}..{tokens[-1]}, no interleaving")
    assert tokens == sorted(tokens) and len(set(tokens)) == 32


def test_gil_is_released_while_waiting(client, res):
    held = client.try_acquire(res, ttl_ms=10_000)
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    ticks_before = ticks
    with pytest.raises(redlead.NotAcquired):
        client.acquire(res, ttl_ms=1_000, wait_ms=500)
    progressed = ticks - ticks_before
    stop.set()
    t.join()
    held.release()
    print(f"other thread ran {progressed} iterations during a 500 ms blocked acquire")
    assert progressed > 50


def test_many_threads_share_one_client(client, res):
    errors = []

    def worker(i):
        try:
            for _ in range(20):
                lock = client.try_acquire(f"{res}-{i}", ttl_ms=2_000)
                assert lock is not None
                lock.release()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_ctrl_c_interrupts_a_long_blocking_acquire(client, res):
    import signal

    held = client.try_acquire(res, ttl_ms=10_000)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        client.acquire(res, ttl_ms=1_000, wait_ms=10_000)
    took = time.monotonic() - t
    print(f"SIGINT after 0.3 s interrupted a 10 s acquire after {took:.2f} s")
    assert took < 1.0
    held.release()
    # The interrupted acquire left nothing behind.
    lock = client.try_acquire(res, ttl_ms=1_000)
    assert lock is not None
    lock.release()
