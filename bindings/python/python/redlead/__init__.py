"""redlead: Redlock (a distributed lock over N independent Redis masters) and
leader election, implemented in Rust.

    import redlead
    client = redlead.Client(["redis://127.0.0.1:6379", ...])
    with client.lock("reports", ttl=10, wait=2, fencing=True) as lock:
        write_report(fencing_token=lock.fencing_token)

Durations are seconds (int, float or ``datetime.timedelta``); the older
``*_ms`` keywords take milliseconds. Safety rests on bounded clock drift and
bounded pauses (see the project's docs/safety.md); pass ``fencing=True`` and
check ``lock.fencing_token`` downstream to reject a holder whose lock
expired during a pause.
"""

from __future__ import annotations

import atexit
import functools
import inspect
from typing import Any, Awaitable, Callable, TypeVar, cast

from . import _logging  # noqa: F401  (the "redlead" logger and its NullHandler)
from . import _redlead
from ._redlead import (
    Closed,
    ConnectionError,
    Election,
    InvalidArgument,
    Lock,
    LockContext,
    LockLost,
    NotAcquired,
    Observer,
    RedleadError,
    RevokeReason,
    Term,
    __version__,
)

__all__ = [
    "Client",
    "Lock",
    "LockContext",
    "AsyncLockContext",
    "Election",
    "Term",
    "Observer",
    "RevokeReason",
    "RedleadError",
    "InvalidArgument",
    "NotAcquired",
    "LockLost",
    "ConnectionError",
    "Closed",
    "__version__",
]

#: ``Client.lock_async`` returns the same context manager as ``Client.lock``.
AsyncLockContext = LockContext

F = TypeVar("F", bound=Callable[..., Any])

class Client(_redlead.Client):
    """A Redlock client over N independent Redis masters.

    ``Client(nodes, *, node_timeout=0.05, drift_factor=0.01, retry_count=None,
    retry_delay=0.2, retry_jitter=0.1, key_prefix="redlead:", hash_tag=True,
    connect_timeout=0.5, tls_ca_pem=None, tls_client_cert_pem=None,
    tls_client_key_pem=None)``: durations in seconds (or timedelta), each
    also as ``*_ms`` in milliseconds; the ``tls_*`` PEMs (str or bytes) are
    for ``rediss://`` nodes with a private CA or client authentication. The
    lock key of a resource is ``f"{key_prefix}{{{resource}}}"``
    (``hash_tag=False``: without braces). Safe to share between threads; in
    a child after ``fork()`` it makes new connections on first use (locks and
    elections of the parent stay the parent's).
    """

    def synchronized(self, resource: str, **lock_args: Any) -> Callable[[F], F]:
        """A decorator holding ``resource`` around every call of a function
        or coroutine function: ``@client.synchronized("reports", ttl=10,
        wait=2)``. Takes ``lock()``'s keywords (``ttl``, ``wait``,
        ``max_hold``, ``extend_interval``, ``fencing``, ``owner``, or their
        ``_ms`` forms), checked here, at decoration. The lock is extended in
        the background while the call runs (up to ``max_hold``, 1 hour by
        default); a call raises NotAcquired when the lock is not acquired
        within ``wait``, and LockLost when it was lost during the call."""
        self.lock(resource, **lock_args)  # checks the arguments now

        def decorate(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def locked_coroutine(*args: Any, **kwargs: Any) -> Any:
                    async with self.lock(resource, **lock_args):
                        return await cast(Callable[..., Awaitable[Any]], fn)(*args, **kwargs)

                return cast(F, locked_coroutine)

            @functools.wraps(fn)
            def locked(*args: Any, **kwargs: Any) -> Any:
                with self.lock(resource, **lock_args):
                    return fn(*args, **kwargs)

            return cast(F, locked)

        return decorate


@atexit.register
def _at_exit() -> None:
    # Stop live elections while threads can still run, then tell library
    # threads to stop calling into Python: shutdown never waits on them.
    try:
        _redlead._stop_all_elections()
    except Exception:
        pass
    _redlead._shutdown()
