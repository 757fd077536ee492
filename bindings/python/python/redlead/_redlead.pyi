"""Type stubs of the native module ``redlead._redlead``."""

from builtins import ConnectionError as _BuiltinConnectionError
from typing import Any, Awaitable, Callable, Optional, Sequence, Union, final

from typing_extensions import disjoint_base

_Millis = Union[int, float]

__all__ = [
    "RedleadError",
    "InvalidArgument",
    "NotAcquired",
    "LockLost",
    "ConnectionError",
    "Closed",
    "Client",
    "Lock",
    "_shutdown",
    "Election",
    "_stop_all_elections",
    "Observer",
    "_errors_of_every_kind",
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
    def validity_ms(self) -> int: ...
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
    def extend(self, ttl_ms: Optional[_Millis] = None) -> int: ...
    def extend_async(self, ttl_ms: Optional[_Millis] = None) -> Awaitable[int]: ...
    def release(self) -> None: ...
    def release_async(self) -> Awaitable[None]: ...
    def __enter__(self) -> Lock: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...
    def __aenter__(self) -> Awaitable[Lock]: ...
    def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Awaitable[bool]: ...

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
    def __enter__(self) -> Election: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

@final
class Observer:
    """Watches who holds a resource (the leader a quorum of nodes agrees on), without campaigning."""

    def __new__(cls, client: Client, resource: str, *, poll_interval_ms: Optional[_Millis] = None) -> Observer: ...
    @property
    def resource(self) -> str: ...
    @property
    def leader(self) -> Optional[str]: ...
    def wait_for_change(self, timeout_ms: Optional[_Millis] = None) -> bool: ...
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
        node_timeout_ms: Optional[_Millis] = None,
        drift_factor: float = 0.01,
        retry_count: Optional[int] = ...,
        retry_delay_ms: Optional[_Millis] = None,
        retry_jitter_ms: Optional[_Millis] = None,
        key_prefix: str = ...,
        hash_tag: bool = True,
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
        self, resource: str, ttl_ms: Optional[_Millis] = None, *, fencing: bool = False,
        owner: Optional[str] = None,
    ) -> Optional[Lock]: ...
    def acquire(
        self, resource: str, ttl_ms: Optional[_Millis] = None, wait_ms: Optional[_Millis] = None,
        *, fencing: bool = False, owner: Optional[str] = None,
    ) -> Lock: ...
    def try_acquire_async(
        self, resource: str, ttl_ms: Optional[_Millis] = None, *, fencing: bool = False,
        owner: Optional[str] = None,
    ) -> Awaitable[Optional[Lock]]: ...
    def acquire_async(
        self, resource: str, ttl_ms: Optional[_Millis] = None, wait_ms: Optional[_Millis] = None,
        *, fencing: bool = False, owner: Optional[str] = None,
    ) -> Awaitable[Lock]: ...
    def _acquire_auto(
        self, resource: str, ttl_ms: _Millis, wait_ms: _Millis, max_hold_ms: _Millis, *,
        extend_interval_ms: Optional[_Millis] = None, fencing: bool = False,
        owner: Optional[str] = None,
    ) -> Lock: ...
    def _acquire_auto_async(
        self, resource: str, ttl_ms: _Millis, wait_ms: _Millis, max_hold_ms: _Millis, *,
        extend_interval_ms: Optional[_Millis] = None, fencing: bool = False,
        owner: Optional[str] = None,
    ) -> Awaitable[Lock]: ...
    def holder(self, resource: str) -> Optional[str]: ...
    def ping(self) -> list[tuple[str, str]]: ...
    def elect(
        self,
        resource: str,
        candidate: str,
        ttl_ms: Optional[_Millis] = None,
        *,
        on_elected: Optional[Callable[[int], Any]] = None,
        on_revoked: Optional[Callable[[int, str], Any]] = None,
        on_leader_change: Optional[Callable[[Optional[str]], Any]] = None,
        renew_interval_ms: Optional[_Millis] = None,
        retry_interval_ms: Optional[_Millis] = None,
        retry_jitter_ms: Optional[_Millis] = None,
        step_down_margin_ms: Optional[_Millis] = None,
    ) -> Election: ...

def _shutdown() -> None: ...
def _stop_all_elections() -> None: ...
def _errors_of_every_kind() -> list[tuple[str, str, RedleadError]]: ...
