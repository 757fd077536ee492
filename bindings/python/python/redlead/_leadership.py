"""``Election.run_while_leader`` and its asyncio flavour: run a function for
one term, tell it when the term ends, resign when it returns (as kazoo's
``Election.run`` does). The native side (``src/term.rs``) waits to be
elected and sets the Term at the end of its term, from the election's event
thread, without the GIL; this file only orders the steps."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional, TypeVar

from ._redlead import Closed, Election, LockLost, RevokeReason, Term

T = TypeVar("T")

#: How long to wait for the event that says why a term ended, once the
#: clock said it did (the event comes from the same step-down, moments later).
_REASON_WAIT = 1.0

#: Ends of a term the candidate chose: not a loss.
_CHOSEN = (RevokeReason.RESIGNED, RevokeReason.STOPPED)


def _lost(election: Election, term: Term) -> Optional[LockLost]:
    """LockLost if ``term`` ended by a loss (not by resign() or stop())."""
    reason = term._reason_within(_REASON_WAIT)
    if reason in _CHOSEN:
        return None
    why = reason if reason is not None else "its step-down point passed"
    return LockLost(
        f"leadership of {election.resource!r} (term {term.term}) ended ({why}) "
        "before the function returned; it may have overlapped the next leader's"
    )


def _step_down(election: Election, term: Term) -> None:
    # resign() resigns whatever term is current; only resign ours.
    if election.term == term.term:
        try:
            election.resign()
        except Closed:
            pass


async def _step_down_async(election: Election, term: Term) -> None:
    if election.term == term.term:
        try:
            await election.resign_async()
        except Closed:
            pass


def run_while_leader(election: Election, fn: Callable[[Term], T]) -> T:
    term = election._wait_elected()
    try:
        result = fn(term)
        ended_inside = term.is_set()
    finally:
        _step_down(election, term)
    if ended_inside:
        lost = _lost(election, term)
        if lost is not None:
            raise lost
    return result


async def run_while_leader_async(
    election: Election, fn: Callable[[Term], Awaitable[T]]
) -> Optional[T]:
    term = await election._elected_async()
    task: "asyncio.Future[T]" = asyncio.ensure_future(fn(term))
    term._cancel_on_end(task)
    try:
        try:
            result = await task
        except asyncio.CancelledError:
            if not (task.cancelled() and term.is_set()):
                raise  # this coroutine was cancelled, not the term ended
            lost = _lost(election, term)
            if lost is not None:
                raise lost from None
            return None
        if term.is_set():
            lost = _lost(election, term)
            if lost is not None:
                raise lost
        return result
    finally:
        await _step_down_async(election, term)


__all__ = ["run_while_leader", "run_while_leader_async"]
