"""asyncio flavour: futures completed from the library's runtime."""

import asyncio
import threading
import time

import pytest

import redlead


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_acquire_async_and_release_async(client, res):
    async def main():
        lock = await client.acquire_async(res, ttl_ms=5_000, wait_ms=1_000, fencing=True)
        assert lock.is_held and lock.fencing_token >= 1
        assert await client.try_acquire_async(res, ttl_ms=5_000) is None
        assert await lock.extend_async(ttl_ms=4_000) <= 4_000
        await lock.release_async()
        assert not lock.is_held
        with pytest.raises(redlead.Closed):
            await lock.release_async()

    run(main())


def test_acquire_async_raises_not_acquired(client, res):
    held = client.try_acquire(res, ttl_ms=5_000)

    async def main():
        with pytest.raises(redlead.NotAcquired) as ei:
            await client.acquire_async(res, ttl_ms=5_000, wait_ms=200)
        assert len(ei.value.outcomes) == 5

    run(main())
    held.release()


def test_lock_async_context_manager(client, res):
    async def main():
        async with client.lock_async(res, ttl_ms=300, wait_ms=1_000) as lock:
            await asyncio.sleep(0.8)
            assert lock.is_held and lock.extensions >= 1
            assert await client.try_acquire_async(res, ttl_ms=1_000) is None
        assert not lock.is_held

    run(main())


def test_lock_async_raises_lock_lost_on_exit(client, nodes, res):
    async def main():
        with pytest.raises(redlead.LockLost):
            async with client.lock_async(res, ttl_ms=600) as lock:
                for n in nodes:
                    n.cmd("SET", lock.key, "intruder")
                await asyncio.sleep(0.5)

    run(main())
    for n in nodes:
        n.cmd("DEL", f"redlead:{{{res}}}")


def test_waiting_coroutines_do_not_block_the_loop_or_use_threads(client, res):
    held = client.try_acquire(res, ttl_ms=400)

    async def main():
        threads_before = threading.active_count()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.ensure_future(ticker())
        waiters = [client.acquire_async(f"{res}", ttl_ms=1_000, wait_ms=3_000) for _ in range(10)]
        lock_list = []
        for w in asyncio.as_completed(waiters):
            try:
                lock = await w
                lock_list.append(lock)
                await lock.release_async()
            except redlead.NotAcquired:
                pass
        t.cancel()
        assert threading.active_count() <= threads_before + 1
        assert ticks > 20
        assert len(lock_list) >= 1

    run(main())


def test_cancelling_an_acquire_leaves_no_lock(client, res):
    held = client.try_acquire(res, ttl_ms=300)

    async def main():
        task = asyncio.ensure_future(client.acquire_async(res, ttl_ms=5_000, wait_ms=5_000))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    time.sleep(0.4)
    lock = client.try_acquire(res, ttl_ms=1_000)
    assert lock is not None, "a cancelled acquire left a lock behind"
    lock.release()


def test_async_call_needs_a_running_loop(client, res):
    with pytest.raises(RuntimeError):
        client.acquire_async(res)
