"""The library's events reach Python ``logging`` (loggers ``redlead.*``),
from the library's log thread: the I/O thread never waits for the GIL, and
a lock taken and released with logging at INFO costs no log work."""

import logging
import statistics
import threading
import time

import pytest

import redlead
from redlead import _redlead
from conftest import wait_until


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=1)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured():
    logger = logging.getLogger("redlead")
    handler = Capture()
    old = logger.level
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)
    logger.setLevel(old)
    _redlead._refresh_log_level()


def test_an_election_logs_elected_at_info_on_its_module_logger(urls, res, captured):
    logger, handler = captured
    logger.setLevel(logging.INFO)
    client = redlead.Client(urls)
    e = client.elect(res, "logged", ttl=1)
    assert wait_until(lambda: any("elected" in r.getMessage() and res in r.getMessage()
                                  for r in handler.records))
    e.stop()
    r = next(r for r in handler.records if "elected" in r.getMessage())
    print("record:", r.name, r.levelname, r.getMessage(), "on thread", r.threadName)
    assert r.name == "redlead.election.lead" and r.levelno == logging.INFO
    assert "id=logged" in r.getMessage()
    assert r.thread != threading.get_ident()
    assert not any(r.levelno < logging.INFO for r in handler.records)


def test_debug_events_appear_once_the_level_is_lowered(client, res, captured):
    logger, handler = captured
    logger.setLevel(logging.WARNING)
    held = client.try_acquire(res, ttl=5)
    logger.setLevel(logging.DEBUG)
    # Picked up within a second (an event below the cached level asks for a
    # re-read), or at once through the next Client.
    deadline = time.monotonic() + 5
    while not any(r.levelno == logging.DEBUG for r in handler.records):
        assert time.monotonic() < deadline, "no DEBUG record after lowering the level"
        client.try_acquire(res, ttl=1)  # refused: logs "acquire failed" at DEBUG
        time.sleep(0.1)
    held.release()
    r = next(r for r in handler.records if r.levelno == logging.DEBUG)
    print("first DEBUG record:", r.name, r.getMessage()[:100])
    assert r.name.startswith("redlead.")


def test_lock_at_info_is_not_slowed_and_logs_nothing(client, res, captured):
    logger, handler = captured

    def median_us(n=150):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            client.try_acquire(res, ttl=5).release()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e6

    logger.setLevel(logging.CRITICAL + 10)
    _redlead._refresh_log_level()
    median_us(30)  # warm up
    off = median_us()
    logger.setLevel(logging.INFO)
    _redlead._refresh_log_level()
    batches_before = _redlead._log_stats()[0]
    info = median_us()
    batches = _redlead._log_stats()[0] - batches_before
    print(f"acquire+release median: {off:.0f} us with logging off, {info:.0f} us at INFO; "
          f"{batches} log batches (GIL acquisitions by the log thread) during the INFO run")
    assert batches == 0 and handler.records == []
    assert info < off * 1.5 + 200


def _timed_sum(n):
    t = time.perf_counter()
    sum(range(n))
    return max(time.perf_counter() - t, 1e-6)


def test_io_thread_renews_while_python_holds_the_gil_and_logs_pile_up(urls, res, captured):
    """Python holds the GIL for ~1.5 s (one long C call, ``sum(range(n))``,
    which never lets another thread in) while a follower's failed attempts
    log at DEBUG. The leader's lease is 0.8 s: it survives only if the I/O
    thread renews it without waiting for the GIL."""
    logger, handler = captured
    logger.setLevel(logging.DEBUG)
    client = redlead.Client(urls)
    leader = client.elect(res, "leader", ttl=0.8)
    assert wait_until(lambda: leader.is_leader)
    follower = client.elect(res, "follower", ttl=0.8, retry_interval=0.05)
    term, transitions = leader.term, leader.transitions
    def hold_the_gil():
        """Holds the GIL ~1.5 s; returns the longest time no other Python
        thread ran, and how long the hold took."""
        ticks = []
        stop_ticking = threading.Event()

        def ticker():  # shows whether any other Python thread got the GIL
            while not stop_ticking.is_set():
                ticks.append(time.monotonic())
                time.sleep(0.01)

        t = threading.Thread(target=ticker)
        t.start()
        time.sleep(0.05)
        per_million = min(_timed_sum(2_000_000) / 2 for _ in range(3))  # the least disturbed
        held = _timed_sum(int(1.5 / per_million * 1_000_000))  # holds the GIL throughout
        stop_ticking.set()
        t.join()
        return max(b - a for a, b in zip(ticks, ticks[1:])), held

    # Now and then (2 runs in 15 here) the hold ends early for a reason not
    # found; the scenario is then tried again, up to three times.
    for _ in range(3):
        gap, held = hold_the_gil()
        if gap > 1.0:
            break
    assert gap > 1.0, (
        f"the GIL was not held as planned (longest gap {gap:.2f} s, held {held:.2f} s)")
    still = (leader.is_leader, leader.term, leader.transitions, follower.is_leader)
    assert wait_until(lambda: any(r.levelno == logging.DEBUG for r in handler.records))
    follower.stop()
    leader.stop()
    print("after 1.5 s of GIL held (leader?, term, transitions, follower leads?):", still,
          f"; {len(handler.records)} records delivered afterwards")
    assert still == (True, term, transitions, False)
