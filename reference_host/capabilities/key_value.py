"""``obsrvr:flowctl/key-value@1.0.0``: a namespaced store on Redis (or its in-memory twin).

:class:`KeyValueCapability` serves the interface, built from its grant
:class:`~reference_host.grants.KeyValueGrant` (``capabilities.key_value``).  Every key a guest
names is checked by :class:`~reference_host.rules.kv.KeyRules` and stored as ``<namespace>:<key>``;
nothing outside the namespace can be read, listed or changed.

=================  ==========================================================================
function           behaviour
=================  ==========================================================================
get                ``ok(some(value))``; a missing key is ``ok(none)``, never ``key-not-found``
set                ``ttl-seconds`` ``none`` *or* ``some(0)``: no expiry of its own, but with
                   ``ttl_max`` set the key gets ``ttl_max`` (rounded up to whole seconds): no
                   key outlives ``ttl_max``.  Larger TTLs are capped at it.  Overwriting drops
                   the old TTL (Redis ``SET``).  Values over ``max_value_bytes`` (UTF-8) and a
                   new key beyond ``max_keys`` are ``storage-full``.
delete             idempotent: a missing key is ``ok`` (Redis ``DEL``; retries are safe)
exists             ``ok(bool)``
list-keys          keys *without* the namespace, sorted; at most ``limit`` and at most
                   ``list_keys_cap`` (default 1000) even when ``limit`` is ``none`` or larger;
                   ``some(0)`` gives ``[]``.  ``SCAN MATCH`` with glob characters of the prefix
                   escaped (never ``KEYS``).  When more keys match than are returned, *which*
                   ones come back is up to ``SCAN`` and differs between the two backends.
increment          ``INCRBY``: a missing key counts from 0 (and, being new, gets ``ttl_max``
                   and counts against ``max_keys``); a value that is not a base-10 s64 is
                   ``unknown-error`` (the key is fine, so not ``invalid-key``); overflowing s64
                   is ``unknown-error`` and leaves the value unchanged
expire             capped at ``ttl_max``; ``0`` deletes the key now (Redis ``EXPIRE``); a
                   missing key is ``key-not-found(<key>)``
=================  ==========================================================================

Errors: refused keys are ``invalid-key`` / ``permission-denied`` (namespace escapes) with a
message naming the problem and the remedy; each refusal decided by the host before touching the
store (bad key or prefix, value too large, key quota) is also kept in :attr:`denials`.  Backend
failures are mapped at one boundary (:func:`~reference_host.capabilities.base.map_exceptions`
with :func:`to_kv_error`): timeouts (the call's budget, or the socket's) are ``timeout``;
``maxmemory`` is ``storage-full``; connection and authentication failures are
``unknown-error("connection ...")`` (``kv-error`` has no connection case); every other exception
is ``unknown-error``.  No exception ever reaches the guest.

Budget: each backend call gets the seconds left in the current guest call
(:meth:`HostContext.remaining`); with none left the function answers ``timeout`` without I/O.
Before :meth:`link` (no context) calls are bounded by ``standalone_timeout``.

Key quota (``max_keys``): counted with ``SCAN`` over the namespace (O(keys in the database)), so
the count is cached: taken exactly on the first key creation, then kept up to date by this
instance's own creations and deletions, and taken again (exactly) whenever the cached count says
the namespace is full -- so keys that expired meanwhile free room, and a refusal is always based
on a fresh count.  Exact for one writer per namespace; keys written by other clients are only
seen at the next recount, so concurrent writers can overshoot the quota by what they create in
between.  Overwriting an existing key never counts against the quota.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reference_host import interfaces
from reference_host.backends.memory import OutOfMemoryReply, ReplyError
from reference_host.capabilities.base import Boundary, HostContext, link_interface, map_exceptions
from reference_host.errors import PolicyError
from reference_host.rules import expected_error_case
from reference_host.rules.kv import KeyDecision, KeyRules, KvCode
from reference_host.types import Err, KvError

if TYPE_CHECKING:
    from wasmtime.component import LinkerInstance

    from reference_host.grants import KeyValueGrant

__all__ = ["KeyValueCapability", "KvBackend", "KvDenial", "to_kv_error"]

_log = logging.getLogger(__name__)
LIST_KEYS_CAP = 1000
_SHOWN = 80


class KvBackend(Protocol):
    """The seam: keys are full (namespaced) keys; ``timeout`` is seconds left for this call."""

    def get(self, key: str, timeout: float) -> str | None:
        """``GET``."""

    def set(
        self, key: str, value: str, ttl: int | None, timeout: float, *, only_if_exists: bool = ...
    ) -> bool:
        """``SET [XX] [EX]``; False when ``only_if_exists`` found no key."""

    def delete(self, key: str, timeout: float) -> bool:
        """``DEL``: whether it existed."""

    def exists(self, key: str, timeout: float) -> bool:
        """``EXISTS``."""

    def scan(self, pattern: str, limit: int, timeout: float) -> list[str]:
        """Up to ``limit`` keys matching the Redis glob ``pattern``."""

    def count(self, pattern: str, timeout: float) -> int:
        """How many keys match ``pattern``."""

    def incrby(self, key: str, delta: int, ttl_if_created: int | None, timeout: float) -> int:
        """Atomic ``INCRBY``; a created key gets ``ttl_if_created``."""

    def expire(self, key: str, seconds: int, timeout: float) -> bool:
        """``EXPIRE``: False for a missing key."""

    def ttl(self, key: str, timeout: float) -> int:
        """``TTL``."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True, slots=True)
class KvDenial:
    """One attempt the host refused before touching the store."""

    function: str
    key: str
    case: str
    code: KvCode
    reason: str


def _shown(key: str) -> str:
    return repr(key if len(key) <= _SHOWN else key[:_SHOWN] + "...")


_REPLIES = (
    (
        "would overflow",
        "the result would overflow a signed 64-bit integer; the value is unchanged. Keep "
        "counters within -2^63 .. 2^63-1",
    ),
    (
        "not an integer",
        "the stored value is not a base-10 signed 64-bit integer; increment only keys that hold "
        "one (or are missing), or set the key to '0' first",
    ),
    ("WRONGTYPE", "another client stored a non-string Redis type there; delete the key"),
)
"""Error replies (as redis-py and the twin word them) and what they mean for the guest."""


@functools.cache
def _redis_exceptions() -> Any:
    try:
        import redis.exceptions
    except ImportError:  # the memory backend does not need redis-py
        return None
    return redis.exceptions


def to_kv_error(exc: Exception, function: str, key: str) -> KvError:
    """Map an exception from a backend (redis-py's, the twin's, or any) to a ``kv-error``."""
    rex, message = _redis_exceptions(), str(exc)[:300]
    what = f"{function} {_shown(key)}"
    if isinstance(exc, TimeoutError) or (rex and isinstance(exc, rex.TimeoutError)):
        return KvError("timeout")
    if isinstance(exc, OutOfMemoryReply) or (rex and isinstance(exc, rex.OutOfMemoryError)):
        return KvError("storage-full")
    if isinstance(exc, ReplyError) or (rex and isinstance(exc, rex.ResponseError)):
        if "OOM" in message or "maxmemory" in message:  # also inside a script's error
            return KvError("storage-full")
        explained = next((text for needle, text in _REPLIES if needle in message), None)
        return KvError(
            "unknown-error", f"{what}: {explained or f'the key-value store answered: {message}'}"
        )
    if (rex and isinstance(exc, rex.ConnectionError)) or isinstance(exc, ConnectionError | OSError):
        return KvError(
            "unknown-error",
            f"connection to the key-value store failed ({type(exc).__name__}: {message}); check "
            "capabilities.key_value.url, its credentials, and that the server is running",
        )
    if isinstance(exc, UnicodeDecodeError):
        return KvError(
            "unknown-error",
            f"{what}: another client stored a value that is not UTF-8 text; overwrite it",
        )
    _log.error("unexpected error in key-value %s", function, exc_info=exc)
    return KvError("unknown-error", f"{what}: internal host error ({type(exc).__name__})")


@dataclass(eq=False)
class KeyValueCapability:
    """Serves the key-value interface for one component instance (see the module docstring)."""

    backend: KvBackend
    rules: KeyRules
    ttl_max: float | None = None
    component_id: str = ""
    list_keys_cap: int = LIST_KEYS_CAP
    standalone_timeout: float = 5.0
    owns_backend: bool = False
    context: HostContext | None = None
    denials: list[KvDenial] = field(default_factory=list)
    interface: str = interfaces.KEY_VALUE
    _key_count: int | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_policy(
        cls, kv_policy: KeyValueGrant, *, component_id: str, backend: KvBackend | None = None
    ) -> KeyValueCapability:
        """Build from ``capabilities.key_value``; a given ``backend`` is used but not closed."""
        rules = KeyRules(
            kv_policy.namespace,
            kv_policy.max_key_bytes,
            max_value_bytes=kv_policy.max_value_bytes,
            max_keys=kv_policy.max_keys,
        )
        owns = backend is None
        if backend is None:
            backend = _backend_for(kv_policy)
        return cls(backend, rules, kv_policy.ttl_max, component_id, owns_backend=owns)

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define the seven functions; calls are then bounded by ``context``'s budget."""
        self.context = context
        names = ("get", "set", "delete", "exists", "list-keys", "increment", "expire")
        impls = {name: getattr(self, name.replace("-", "_")) for name in names}
        link_interface(linker, self.interface, impls, context=context)

    def close(self) -> None:
        """Close the backend if this capability made it (idempotent)."""
        if self.owns_backend:
            self.owns_backend = False
            self.backend.close()

    # ------------------------------------------------------------------ helpers

    def _boundary(self, function: str, key: str) -> AbstractContextManager[Boundary[KvError]]:
        """The error boundary for one function: backend exceptions become its ``kv-error``."""
        return map_exceptions(lambda exc: to_kv_error(exc, function, key))

    def _timeout(self) -> float:
        return self.standalone_timeout if self.context is None else self.context.remaining()

    def _deny(self, function: str, key: str, decision: KeyDecision) -> Err[KvError]:
        case = expected_error_case(decision) or "unknown-error"
        rules = self.rules
        remedy = {
            KvCode.NAMESPACE_ESCAPE: f"keys are relative to namespace {rules.namespace!r}: drop "
            "the leading ':' and any '.' or '..' segments",
            KvCode.VALUE_TOO_LARGE: "store less, or raise capabilities.key_value.max_value_bytes",
            KvCode.STORAGE_FULL: "delete or expire keys, or raise capabilities.key_value.max_keys",
        }.get(
            decision.code,
            f"keys are 1-{rules.max_key_bytes} UTF-8 bytes, without control or invisible "
            "characters and without whitespace at either end",
        )
        reason = f"{decision.reason} ({_shown(key)}); {remedy}"
        self.denials.append(KvDenial(function, key, case, decision.code, reason))
        _log.debug("key-value %s denied for %s: %s", function, self.component_id, reason)
        payload = None if KvError.CASES[case] is None else reason
        return Err(KvError(case, payload))

    def _checked(self, function: str, key: str) -> str | Err[KvError]:
        """The full key, or the refusal (bad key, or no time left for any I/O)."""
        decision = self.rules.check(key)
        if decision.full_key is None:
            return self._deny(function, key, decision)
        if self._timeout() <= 0:
            return Err(KvError("timeout"))
        return decision.full_key

    def _room_for_new_key(self) -> KeyDecision:
        """Quota check for one more key (see the module docstring for the counting scheme)."""
        limit = self.rules.max_keys
        if limit is not None and (self._key_count is None or self._key_count >= limit):
            pattern = self.rules.scan_pattern("")
            self._key_count = self.backend.count(pattern, self._timeout())
        return self.rules.check_key_count(self._key_count or 0)

    def _counted(self, delta: int) -> None:
        if self._key_count is not None:
            self._key_count = max(0, self._key_count + delta)

    # ------------------------------------------------------------------ the interface

    def get(self, key: str) -> str | Err[KvError] | None:
        """``get``: the value; None (``ok(none)``) for a missing key."""
        full = self._checked("get", key)
        if isinstance(full, Err):
            return full
        with self._boundary("get", key) as boundary:
            return self.backend.get(full, self._timeout())
        return boundary.result()

    def set(self, key: str, value: str, ttl_seconds: int | None) -> Err[KvError] | None:
        """``set``: store ``value`` with the capped TTL (see the module docstring)."""
        full = self._checked("set", key)
        if isinstance(full, Err):
            return full
        size = self.rules.check_value(value)
        if not size.allowed:
            return self._deny("set", key, size)
        with self._boundary("set", key) as boundary:
            ttl = KeyRules.ttl(ttl_seconds or None, self.ttl_max)
            if self.backend.set(full, value, ttl, self._timeout(), only_if_exists=True):
                return None
            room = self._room_for_new_key()
            if not room.allowed:
                return self._deny("set", key, room)
            self.backend.set(full, value, ttl, self._timeout())
            self._counted(+1)
            return None
        return boundary.result()

    def delete(self, key: str) -> Err[KvError] | None:
        """``delete``: ``ok`` whether or not the key existed."""
        full = self._checked("delete", key)
        if isinstance(full, Err):
            return full
        with self._boundary("delete", key) as boundary:
            if self.backend.delete(full, self._timeout()):
                self._counted(-1)
            return None
        return boundary.result()

    def exists(self, key: str) -> bool | Err[KvError]:
        """``exists``."""
        full = self._checked("exists", key)
        if isinstance(full, Err):
            return full
        with self._boundary("exists", key) as boundary:
            return self.backend.exists(full, self._timeout())
        return boundary.result()

    def list_keys(self, prefix: str, limit: int | None) -> list[str] | Err[KvError]:
        """``list-keys``: sorted keys (namespace stripped) starting with ``prefix`` literally."""
        decision = self.rules.check(prefix, prefix=True)
        if not decision.allowed:
            return self._deny("list-keys", prefix, decision)
        wanted = self.list_keys_cap if limit is None else min(limit, self.list_keys_cap)
        if wanted <= 0:
            return []
        if self._timeout() <= 0:
            return Err(KvError("timeout"))
        with self._boundary("list-keys", prefix) as boundary:
            found = self.backend.scan(self.rules.scan_pattern(prefix), wanted, self._timeout())
            keys = (self.rules.strip_namespace(k) for k in found)
            return sorted(k for k in keys if k is not None)[:wanted]
        return boundary.result()

    def increment(self, key: str, delta: int) -> int | Err[KvError]:
        """``increment``: the new value (see the module docstring for errors)."""
        full = self._checked("increment", key)
        if isinstance(full, Err):
            return full
        with self._boundary("increment", key) as boundary:
            created = not self.backend.exists(full, self._timeout())
            if created:
                room = self._room_for_new_key()
                if not room.allowed:
                    return self._deny("increment", key, room)
            ttl = KeyRules.ttl(None, self.ttl_max)
            value = self.backend.incrby(full, delta, ttl, self._timeout())
            self._counted(+1 if created else 0)
            return value
        return boundary.result()

    def expire(self, key: str, ttl_seconds: int) -> Err[KvError] | None:
        """``expire``: capped at ``ttl_max``; 0 deletes now; a missing key is key-not-found."""
        full = self._checked("expire", key)
        if isinstance(full, Err):
            return full
        with self._boundary("expire", key) as boundary:
            ttl = KeyRules.ttl(ttl_seconds, self.ttl_max) or 0
            if not self.backend.expire(full, ttl, self._timeout()):
                return Err(KvError("key-not-found", key))
            self._counted(-1 if ttl == 0 else 0)
            return None
        return boundary.result()


def _backend_for(kv_policy: KeyValueGrant) -> KvBackend:
    """Make the backend ``capabilities.key_value`` names (redis-py is needed only for Redis)."""
    from reference_host.backends.memory import MemoryBackend
    from reference_host.backends.redis import RedisBackend

    if kv_policy.backend == "memory":
        return MemoryBackend()
    if kv_policy.url is None:
        raise PolicyError(
            "capabilities.key_value.backend is 'redis' but no url is set; set "
            "capabilities.key_value.url (e.g. redis://127.0.0.1:6379/0) or backend: memory"
        )
    if importlib.util.find_spec("redis") is None:  # pragma: no cover - an optional extra
        raise PolicyError(
            "the key-value backend 'redis' needs redis-py; install flowctl-conformance[redis], "
            "or set capabilities.key_value.backend: memory"
        )
    try:
        return RedisBackend(kv_policy.url.get_secret_value())
    except ValueError as exc:
        raise PolicyError(f"capabilities.key_value.url: {exc}") from None
