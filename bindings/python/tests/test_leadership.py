"""RevokeReason, elections on the event loop (elect_async, async with,
async def callbacks) and run_while_leader."""

import asyncio
import threading
import time

import pytest

import redlead
from redlead import RevokeReason
from conftest import wait_until


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_revoke_reason_is_an_enum_equal_to_the_cores_words():
    import enum

    assert issubclass(RevokeReason, enum.Enum)
    assert [(m.name, m.value) for m in RevokeReason] == [
        ("LOST_QUORUM", "lost quorum"), ("TAKEN_OVER", "taken over"),
        ("RESIGNED", "resigned"), ("STOPPED", "stopped"),
    ]
    assert RevokeReason.STOPPED == "stopped" and str(RevokeReason.STOPPED) == "stopped"
    assert f"{RevokeReason.TAKEN_OVER}" == "taken over"
    assert RevokeReason("resigned") is RevokeReason.RESIGNED


def test_on_revoked_gets_the_enum_member(client, res):
    got = []
    e = client.elect(res, "a", ttl=1, on_revoked=lambda term, reason: got.append(reason))
    assert wait_until(lambda: e.is_leader)
    e.resign()
    assert wait_until(lambda: got)
    e.stop()
    assert got[0] is RevokeReason.RESIGNED


def test_elect_async_runs_callbacks_on_the_loop_and_stops_on_async_with_exit(client, res):
    events = []

    async def main():
        loop_thread = threading.get_ident()

        async def on_elected(term):  # async def callbacks run as tasks of the loop
            await asyncio.sleep(0)
            events.append(("elected", term, threading.get_ident() == loop_thread))

        def on_revoked(term, reason):
            events.append(("revoked", reason, threading.get_ident() == loop_thread))

        async with client.elect_async(res, "a", ttl=1, on_elected=on_elected,
                                      on_revoked=on_revoked) as e:
            for _ in range(200):
                if events:
                    break
                await asyncio.sleep(0.01)
            assert e.is_leader
        # stop_async returned: the revocation's callback already ran.
        assert events[-1] == ("revoked", RevokeReason.STOPPED, True), events
        assert not e.is_leader

    run(main())
    assert events[0][0] == "elected" and events[0][2] is True


def test_elect_from_a_coroutine_delivers_on_the_loop_and_outside_on_a_library_thread(client, res):
    seen = []

    async def main():
        e = client.elect(res, "a", ttl=1, on_elected=lambda t: seen.append(threading.get_ident()))
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        await e.stop_async()
        return threading.get_ident()

    loop_thread = run(main())
    assert seen == [loop_thread]
    outside = []
    e = client.elect(res + "-2", "a", ttl=1, on_elected=lambda t: outside.append(threading.get_ident()))
    assert wait_until(lambda: outside)
    e.stop()
    assert outside[0] != threading.get_ident()


def test_async_callbacks_need_a_loop_and_elect_async_needs_a_running_one(client, res):
    async def cb(term):
        pass

    with pytest.raises(TypeError, match="on_elected is an async function"):
        client.elect(res, "a", on_elected=cb)
    with pytest.raises(RuntimeError):
        client.elect_async(res, "a")


def test_run_while_leader_runs_once_elected_and_resigns_after(client, res):
    other = client.elect(res, "other", ttl=1)
    assert wait_until(lambda: other.is_leader)
    me = client.elect(res, "me", ttl=1)
    seen = {}

    def work(term):
        seen["term"] = term.term
        seen["leading"] = me.is_leader and not term.is_set()
        return "result"

    threading.Timer(0.3, other.resign).start()
    t = time.monotonic()
    assert me.run_while_leader(work) == "result"
    print(f"elected and ran after {time.monotonic() - t:.2f} s (the other resigned at 0.3 s)")
    assert seen["leading"] and seen["term"] > 0
    assert not me.is_leader  # resigned after the function returned
    assert wait_until(lambda: other.is_leader, timeout=3)  # and handed over
    me.stop()
    other.stop()


def test_run_while_leader_tells_the_function_when_the_term_is_lost(client, nodes, res):
    e = client.elect(res, "me", ttl=1)
    marks = {}

    def work(term):
        for n in nodes:  # another owner takes the key: the next renewal finds out
            n.cmd("SET", client.lock_key(res), "intruder", "PX", "3000")
        t = time.monotonic()
        ended = term.wait(timeout=3)
        marks["after"] = time.monotonic() - t
        marks["ended"], marks["leader"], marks["reason"] = ended, e.is_leader, term.reason
        return "late result"

    with pytest.raises(redlead.LockLost, match="taken over"):
        e.run_while_leader(work)
    print(f"the term ended {marks['after'] * 1000:.0f} ms after the takeover")
    assert marks["ended"] and not marks["leader"] and marks["after"] < 1.0
    assert marks["reason"] in (None, RevokeReason.TAKEN_OVER)
    e.stop()


def test_run_while_leader_raises_closed_when_stopped_before_elected(client, res):
    other = client.elect(res, "other", ttl=2)
    assert wait_until(lambda: other.is_leader)
    me = client.elect(res, "me", ttl=2)
    threading.Timer(0.2, me.stop).start()
    with pytest.raises(redlead.Closed):
        me.run_while_leader(lambda term: pytest.fail("ran without being elected"))
    other.stop()


def test_run_while_leader_async_cancels_the_task_when_the_term_ends(client, nodes, res):
    async def main():
        e = client.elect_async(res, "me", ttl=1)
        cancelled = asyncio.Event()
        started = []

        async def work(term):
            started.append(term.term)
            for n in nodes:
                n.cmd("SET", client.lock_key(res), "intruder", "PX", "3000")
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        t = time.monotonic()
        with pytest.raises(redlead.LockLost):
            await e.run_while_leader_async(work)
        took = time.monotonic() - t
        assert cancelled.is_set() and started and took < 2.0, took
        await e.stop_async()

        # A function that returns while leading: its result, then resigned.
        async with client.elect_async(res + "-2", "me", ttl=1) as e2:
            async def quick(term):
                return term.term

            term = await e2.run_while_leader_async(quick)
            assert term >= 1 and not e2.is_leader

    run(main())
