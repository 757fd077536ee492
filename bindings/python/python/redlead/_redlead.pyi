"""Type stubs of the native module ``redlead._redlead``."""

from builtins import ConnectionError as _BuiltinConnectionError
from datetime import timedelta
from enum import Enum
from typing import Any, Awaitable, Callable, Optional, Sequence, TypeVar, Union, final, overload

from typing_extensions import disjoint_base

#: A duration in seconds.
_Seconds = Union[int, float, timedelta]
#: A duration in milliseconds (the ``*_ms`` keywords).
_Millis = Union[int, float]
_T = TypeVar("_T")

__all__ = [
    "RedleadError",
    "InvalidArgument",
    "NotAcquired",
    "LockLost",
    "ConnectionError",
    "Closed",
    "Client",
    "Lock",
    "LockContext",
    "_shutdown",
    "Election",
    "Term",
    "RevokeReason",
    "_stop_all_elections",
    "Observer",
    "_errors_of_every_kind",
    "_log_stats",
    "_refresh_log_level",
    "__version__",
]

__version__: str

class RedleadError(Exception):
    """Base class of every error raised by redlead."""

    outcomes: list[tuple[str, str]]

class InvalidArgument(RedleadError, ValueError):
    """A parameter was rejected before anything was sent; the message names it."""

class NotAcquired(RedleadError):
    """The nodes answered, but no quorum granted the lock in time (held by another owner, or the validity was used up while acquiring)."""

class LockLost(RedleadError):
    """The lock is known to be gone: a quorum says it no longer holds this lock's token, or its validity ended before it could be extended."""

class ConnectionError(RedleadError, _BuiltinConnectionError):
    """Too few nodes answered to reach a quorum (down, frozen, refusing)."""

class Closed(RedleadError):
    """The lock was released or the election stopped."""

class RevokeReason(str, Enum):
    """Why a leadership ended: LOST_QUORUM (renewals could not reach a quorum before the step-down point), TAKEN_OVER (a quorum says the lock is no longer ours), RESIGNED (resign() was called), STOPPED (the election was stopped). Each member is also the str the core describes it with, e.g. RevokeReason.STOPPED == "stopped"."""

    LOST_QUORUM = "lost quorum"
    TAKEN_OVER = "taken over"
    RESIGNED = "resigned"
    STOPPED = "stopped"
    def __new__(cls, value: str) -> RevokeReason: ...

@final
class Lock:
    """A held lock; a context manager that releases it on exit."""

    @property
    def resource(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def fencing_token(self) -> Optional[int]: ...
    @property
    def validity(self) -> float: ...
    @property
    def validity_ms(self) -> int: ...
    @property
    def ttl(self) -> float: ...
    @property
    def ttl_ms(self) -> int: ...
    @property
    def is_held(self) -> bool: ...
    @property
    def is_lost(self) -> bool: ...
    @property
    def extensions(self) -> int: ...
    @property
    def outcomes(self) -> list[tuple[str, str]]: ...
    @overload
    def extend(self, *, ttl: Optional[_Seconds] = None, ttl_ms: None = None) -> float: ...
    @overload
    def extend(self, *, ttl: None = None, ttl_ms: _Millis) -> int: ...
    @overload
    def extend_async(
        self, *, ttl: Optional[_Seconds] = None, ttl_ms: None = None
    ) -> Awaitable[float]: ...
    @overload
    def extend_async(self, *, ttl: None = None, ttl_ms: _Millis) -> Awaitable[int]: ...
    def release(self) -> None: ...
    def release_async(self) -> Awaitable[None]: ...
    def __enter__(self) -> Lock: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...
    def __aenter__(self) -> Awaitable[Lock]: ...
    def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Awaitable[bool]: ...

@final
class LockContext:
    """``with client.lock(...) as lock:`` (or ``async with``): acquired on enter, extended while inside, released on exit."""

    def __enter__(self) -> Lock: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...
    def __aenter__(self) -> Awaitable[Lock]: ...
    def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Awaitable[bool]: ...

@final
class Term:
    """One term of this candidate's leadership: an Event set when the term ends."""

    @property
    def term(self) -> int: ...
    @property
    def reason(self) -> Optional[RevokeReason]: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: Optional[_Seconds] = None) -> bool: ...
    def _reason_within(self, timeout: float) -> Optional[RevokeReason]: ...
    def _cancel_on_end(self, task: Any) -> None: ...

@final
class Election:
    """A candidate in a leader election; a context manager that stops it on exit."""

    @property
    def resource(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def term(self) -> Optional[int]: ...
    @property
    def observed_leader(self) -> Optional[str]: ...
    @property
    def transitions(self) -> int: ...
    @property
    def is_healthy(self) -> bool: ...
    def leader(self) -> Optional[str]: ...
    def resign(self) -> bool: ...
    def stop(self) -> None: ...
    def leader_async(self) -> Awaitable[Optional[str]]: ...
    def resign_async(self) -> Awaitable[bool]: ...
    def stop_async(self) -> Awaitable[None]: ...
    def run_while_leader(self, function: Callable[[Term], _T], /) -> _T: ...
    def run_while_leader_async(
        self, function: Callable[[Term], Awaitable[_T]], /
    ) -> Awaitable[Optional[_T]]: ...
    def _wait_elected(self) -> Term: ...
    def _elected_async(self) -> Awaitable[Term]: ...
    def __enter__(self) -> Election: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...
    def __aenter__(self) -> Awaitable[Election]: ...
    def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Awaitable[None]: ...

@final
class Observer:
    """Watches who holds a resource (the leader a quorum of nodes agrees on), without campaigning."""

    def __new__(
        cls,
        client: Client,
        resource: str,
        *,
        poll_interval: Optional[_Seconds] = None,
        poll_interval_ms: Optional[_Millis] = None,
    ) -> Observer: ...
    @property
    def resource(self) -> str: ...
    @property
    def leader(self) -> Optional[str]: ...
    def wait_for_change(
        self, timeout: Optional[_Seconds] = None, *, timeout_ms: Optional[_Millis] = None
    ) -> bool: ...
    def stop(self) -> None: ...
    def __enter__(self) -> Observer: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

@disjoint_base
class Client:
    """A Redlock client over N independent Redis masters."""

    def __new__(
        cls,
        nodes: Sequence[str],
        *,
        node_timeout: Optional[_Seconds] = None,
        node_timeout_ms: Optional[_Millis] = None,
        drift_factor: float = 0.01,
        retry_count: Optional[int] = ...,
        retry_delay: Optional[_Seconds] = None,
        retry_delay_ms: Optional[_Millis] = None,
        retry_jitter: Optional[_Seconds] = None,
        retry_jitter_ms: Optional[_Millis] = None,
        key_prefix: str = ...,
        hash_tag: bool = True,
        connect_timeout: Optional[_Seconds] = None,
        connect_timeout_ms: Optional[_Millis] = None,
        tls_ca_pem: Optional[Union[str, bytes]] = None,
        tls_client_cert_pem: Optional[Union[str, bytes]] = None,
        tls_client_key_pem: Optional[Union[str, bytes]] = None,
    ) -> Client: ...
    @property
    def nodes(self) -> list[str]: ...
    @property
    def quorum(self) -> int: ...
    def lock_key(self, resource: str) -> str: ...
    def try_acquire(
        self, resource: str, *, ttl: Optional[_Seconds] = None, ttl_ms: Optional[_Millis] = None,
        fencing: bool = False, owner: Optional[str] = None,
    ) -> Optional[Lock]: ...
    def acquire(
        self, resource: str, *, ttl: Optional[_Seconds] = None, ttl_ms: Optional[_Millis] = None,
        wait: Optional[_Seconds] = None, wait_ms: Optional[_Millis] = None,
        fencing: bool = False, owner: Optional[str] = None,
    ) -> Lock: ...
    def try_acquire_async(
        self, resource: str, *, ttl: Optional[_Seconds] = None, ttl_ms: Optional[_Millis] = None,
        fencing: bool = False, owner: Optional[str] = None,
    ) -> Awaitable[Optional[Lock]]: ...
    def acquire_async(
        self, resource: str, *, ttl: Optional[_Seconds] = None, ttl_ms: Optional[_Millis] = None,
        wait: Optional[_Seconds] = None, wait_ms: Optional[_Millis] = None,
        fencing: bool = False, owner: Optional[str] = None,
    ) -> Awaitable[Lock]: ...
    def lock(
        self, resource: str, *, ttl: Optional[_Seconds] = None, ttl_ms: Optional[_Millis] = None,
        wait: Optional[_Seconds] = None, wait_ms: Optional[_Millis] = None,
        max_hold: Optional[_Seconds] = None, max_hold_ms: Optional[_Millis] = None,
        extend_interval: Optional[_Seconds] = None, extend_interval_ms: Optional[_Millis] = None,
        fencing: bool = False, owner: Optional[str] = None,
    ) -> LockContext: ...
    def lock_async(
        self, resource: str, *, ttl: Optional[_Seconds] = None, ttl_ms: Optional[_Millis] = None,
        wait: Optional[_Seconds] = None, wait_ms: Optional[_Millis] = None,
        max_hold: Optional[_Seconds] = None, max_hold_ms: Optional[_Millis] = None,
        extend_interval: Optional[_Seconds] = None, extend_interval_ms: Optional[_Millis] = None,
        fencing: bool = False, owner: Optional[str] = None,
    ) -> LockContext: ...
    def holder(self, resource: str) -> Optional[str]: ...
    def ping(self) -> list[tuple[str, str]]: ...
    def elect(
        self,
        resource: str,
        candidate: str,
        *,
        ttl: Optional[_Seconds] = None,
        ttl_ms: Optional[_Millis] = None,
        on_elected: Optional[Callable[[int], Any]] = None,
        on_revoked: Optional[Callable[[int, RevokeReason], Any]] = None,
        on_leader_change: Optional[Callable[[Optional[str]], Any]] = None,
        renew_interval: Optional[_Seconds] = None,
        renew_interval_ms: Optional[_Millis] = None,
        retry_interval: Optional[_Seconds] = None,
        retry_interval_ms: Optional[_Millis] = None,
        retry_jitter: Optional[_Seconds] = None,
        retry_jitter_ms: Optional[_Millis] = None,
        step_down_margin: Optional[_Seconds] = None,
        step_down_margin_ms: Optional[_Millis] = None,
    ) -> Election: ...
    def elect_async(
        self,
        resource: str,
        candidate: str,
        *,
        ttl: Optional[_Seconds] = None,
        ttl_ms: Optional[_Millis] = None,
        on_elected: Optional[Callable[[int], Any]] = None,
        on_revoked: Optional[Callable[[int, RevokeReason], Any]] = None,
        on_leader_change: Optional[Callable[[Optional[str]], Any]] = None,
        renew_interval: Optional[_Seconds] = None,
        renew_interval_ms: Optional[_Millis] = None,
        retry_interval: Optional[_Seconds] = None,
        retry_interval_ms: Optional[_Millis] = None,
        retry_jitter: Optional[_Seconds] = None,
        retry_jitter_ms: Optional[_Millis] = None,
        step_down_margin: Optional[_Seconds] = None,
        step_down_margin_ms: Optional[_Millis] = None,
    ) -> Election: ...

def _shutdown() -> None: ...
def _stop_all_elections() -> None: ...
def _errors_of_every_kind() -> list[tuple[str, str, RedleadError]]: ...
def _log_stats() -> tuple[int, int]: ...
def _refresh_log_level() -> None: ...
