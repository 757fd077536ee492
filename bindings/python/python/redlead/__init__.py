"""redlead: Redlock (a distributed lock over N independent Redis masters) and
leader election, implemented in Rust.

    import redlead
    client = redlead.Client(["redis://127.0.0.1:6379", ...])
    with client.lock("reports", ttl_ms=10_000, wait_ms=2_000) as lock:
        write_report(fencing_token=lock.fencing_token)

Safety rests on bounded clock drift and bounded pauses (see the project's
docs/safety.md); pass ``fencing=True`` and check ``lock.fencing_token``
downstream to reject a holder whose lock expired during a pause.
"""

from __future__ import annotations

import atexit
from typing import Any, Dict, Optional, Tuple

from . import _redlead
from ._redlead import (
    Closed,
    Election,
    ConnectionError,
    InvalidArgument,
    Lock,
    LockLost,
    NotAcquired,
    RedleadError,
    __version__,
)

__all__ = [
    "Client",
    "Lock",
    "Election",

    "LockContext",
    "AsyncLockContext",
    "RedleadError",
    "InvalidArgument",
    "NotAcquired",
    "LockLost",
    "ConnectionError",
    "Closed",
    "__version__",
]

#: Default cap on how long ``Client.lock`` keeps extending a lock: 1 hour.
DEFAULT_MAX_HOLD_MS = 3_600_000

class LockContext:
    """``with client.lock(...) as lock:`` acquires (waiting up to ``wait_ms``),
    keeps the lock extended in the background while inside (up to
    ``max_hold_ms``), releases it on exit, and raises LockLost on exit if
    the lock was lost inside the block."""

    __slots__ = ("_client", "_args", "_kwargs", "_lock")

    def __init__(self, client: "Client", args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self._client = client
        self._args = args
        self._kwargs = kwargs
        self._lock: Optional[Lock] = None

    def __enter__(self) -> Lock:
        if self._lock is not None:
            raise RedleadError("this lock context is already entered")
        self._lock = self._client._acquire_auto(*self._args, **self._kwargs)
        return self._lock

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        lock, self._lock = self._lock, None
        assert lock is not None
        return lock.__exit__(exc_type, exc, tb)

class AsyncLockContext:
    """``async with client.lock_async(...) as lock:``, the asyncio flavour of
    LockContext: waits on the library's runtime, not on a thread."""

    __slots__ = ("_client", "_args", "_kwargs", "_lock")

    def __init__(self, client: "Client", args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self._client = client
        self._args = args
        self._kwargs = kwargs
        self._lock: Optional[Lock] = None

    async def __aenter__(self) -> Lock:
        if self._lock is not None:
            raise RedleadError("this lock context is already entered")
        self._lock = await self._client._acquire_auto_async(*self._args, **self._kwargs)
        return self._lock

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        lock, self._lock = self._lock, None
        assert lock is not None
        return await lock.__aexit__(exc_type, exc, tb)

class Client(_redlead.Client):
    """A Redlock client over N independent Redis masters.

    ``Client(nodes, *, node_timeout_ms=50, drift_factor=0.01, retry_count=None,
    retry_delay_ms=200, retry_jitter_ms=100, key_prefix="redlead:",
    hash_tag=True, connect_timeout_ms=500, tls_ca_pem=None, tls_client_cert_pem=None,
    tls_client_key_pem=None)``; the ``tls_*`` PEMs (str or bytes) are for
    ``rediss://`` nodes with a private CA or client authentication. The lock key of a resource is
    ``f"{key_prefix}{{{resource}}}"`` (``hash_tag=False``: without braces).
    Safe to share between threads; make a new one in a child after fork().
    """

    def lock(
        self,
        resource: str,
        ttl_ms: float = 10_000,
        wait_ms: float = 10_000,
        *,
        max_hold_ms: float = DEFAULT_MAX_HOLD_MS,
        extend_interval_ms: Optional[float] = None,
        fencing: bool = True,
        owner: Optional[str] = None,
    ) -> LockContext:
        """A context manager holding ``resource``: acquired on enter (waiting
        up to ``wait_ms``), extended every ``extend_interval_ms`` (default
        ttl/3) until ``max_hold_ms``, released on exit; raises LockLost on
        exit if the lock was lost inside. Fenced by default."""
        return LockContext(
            self,
            (resource, ttl_ms, wait_ms, max_hold_ms),
            {"extend_interval_ms": extend_interval_ms, "fencing": fencing, "owner": owner},
        )

    def lock_async(
        self,
        resource: str,
        ttl_ms: float = 10_000,
        wait_ms: float = 10_000,
        *,
        max_hold_ms: float = DEFAULT_MAX_HOLD_MS,
        extend_interval_ms: Optional[float] = None,
        fencing: bool = True,
        owner: Optional[str] = None,
    ) -> AsyncLockContext:
        """The asyncio flavour of ``lock``: ``async with client.lock_async(...)``."""
        return AsyncLockContext(
            self,
            (resource, ttl_ms, wait_ms, max_hold_ms),
            {"extend_interval_ms": extend_interval_ms, "fencing": fencing, "owner": owner},
        )

@atexit.register
def _at_exit() -> None:
    # Stop live elections while threads can still run, then tell library
    # threads to stop calling into Python: shutdown never waits on them.
    stop_all = getattr(_redlead, "_stop_all_elections", None)
    if stop_all is not None:
        try:
            stop_all()
        except Exception:
            pass
    _redlead._shutdown()
