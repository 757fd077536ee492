"""@client.synchronized: the lock held around each call of a function or
coroutine function."""

import asyncio
import threading
import time

import pytest

import redlead


def test_synchronized_function_holds_the_lock_while_it_runs(client, res):
    inside = []

    @client.synchronized(res, ttl=0.3, wait=2, fencing=True, owner="job")
    def job(x, *, y):
        inside.append((client.holder(res), client.try_acquire(res, ttl=1)))
        time.sleep(0.5)  # > ttl: only the auto-extension keeps it
        inside.append(client.try_acquire(res, ttl=1))
        return x + y

    assert job.__name__ == "job"
    assert job(1, y=2) == 3
    assert inside == [("job", None), None]
    assert client.holder(res) is None  # released after the call


def test_synchronized_calls_never_overlap_across_threads(client, res):
    active, overlaps = [0], []
    lock = threading.Lock()

    @client.synchronized(res, ttl=2, wait=5)
    def section():
        with lock:
            active[0] += 1
            overlaps.append(active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1

    threads = [threading.Thread(target=section) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1, 1, 1, 1]


def test_synchronized_raises_not_acquired_when_held_past_the_wait(client, res):
    held = client.try_acquire(res, ttl=5)

    @client.synchronized(res, ttl=1, wait=0.2)
    def job():
        pytest.fail("ran without the lock")

    t = time.monotonic()
    with pytest.raises(redlead.NotAcquired):
        job()
    assert time.monotonic() - t < 2.0
    held.release()


def test_synchronized_checks_its_arguments_when_decorating(client, res):
    with pytest.raises(redlead.InvalidArgument, match="ttl"):
        client.synchronized(res, ttl=-1)
    with pytest.raises(TypeError):
        client.synchronized(res, ttl_seconds=1)


def test_synchronized_coroutine_function(client, res):
    @client.synchronized(res, ttl=1, wait=2)
    async def job():
        assert await client.try_acquire_async(res, ttl=1) is None
        await asyncio.sleep(0.01)
        return "ok"

    async def main():
        return await asyncio.gather(job(), job())

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ["ok", "ok"]
    assert client.holder(res) is None
