r"""Key rules for the ``key-value`` capability: namespacing, glob escaping, TTL caps, overflow.

Every key a guest names is stored as ``f"{namespace}:{key}"``.  A key is accepted when:

* it is a non-empty ``str`` of at most ``max_key_bytes`` UTF-8 bytes (``invalid-key``);
* it has no control characters (Unicode ``Cc``: NUL, C0, DEL, C1), no invisible format characters
  (``Cf``), no lone surrogates, and no whitespace at either end (``invalid-key``);
* it does not try to leave its namespace (``permission-denied``): it must not start with the
  separator ``:`` and must not contain a ``.`` or ``..`` segment between ``:`` or ``/``
  separators.  Redis itself gives these no meaning, but they are the shape of namespace
  escapes in backends that map keys onto paths or nested namespaces, and refusing them keeps
  the memory and Redis backends interchangeable.

``list-keys`` prefixes follow the same rules except that the empty prefix (every key in the
namespace) is allowed, whitespace at the end is allowed, and the last (possibly partial) segment
may be ``.`` or ``..`` (it can be the start of ``.hidden``); Redis glob metacharacters
(``* ? [ ] \``) in the namespace and the prefix are escaped, so a prefix only ever matches
literally.  The namespace itself must be non-empty, without ``:``, whitespace or control
characters (so one namespace can never be a prefix of another namespace's keys).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "S64_MAX",
    "S64_MIN",
    "KeyDecision",
    "KeyRules",
    "KvCode",
    "check_namespace",
]

S64_MIN = -(2**63)
S64_MAX = 2**63 - 1
SEPARATOR = ":"
_GLOB_CHARS = "\\*?[]"
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


class KvCode(StrEnum):
    """Why a key operation was allowed or refused; ``expected_error_case`` maps it."""

    OK = "ok"
    EMPTY = "empty"
    TOO_LONG = "too-long"
    BAD_CHARACTER = "bad-character"
    WHITESPACE = "whitespace"
    NAMESPACE_ESCAPE = "namespace-escape"
    VALUE_TOO_LARGE = "value-too-large"
    STORAGE_FULL = "storage-full"
    OVERFLOW = "overflow"


@dataclass(frozen=True, slots=True)
class KeyDecision:
    """The verdict on one key (or increment); ``value`` is the key as stored, or the new count."""

    allowed: bool
    reason: str
    code: KvCode
    full_key: str | None = None
    value: int | None = None


def check_namespace(namespace: str) -> str:
    """Return ``namespace`` if usable, else raise :class:`ValueError` saying what is expected."""
    if not isinstance(namespace, str) or not namespace:
        raise ValueError("the namespace must be a non-empty string")
    if SEPARATOR in namespace:
        raise ValueError(f"the namespace must not contain the separator {SEPARATOR!r}")
    if any(ch.isspace() or unicodedata.category(ch) in _BAD_CATEGORIES for ch in namespace):
        raise ValueError("the namespace must not contain whitespace or control characters")
    return namespace


def _escape_glob(text: str) -> str:
    return "".join("\\" + ch if ch in _GLOB_CHARS else ch for ch in text)


class KeyRules:
    """Validate and namespace keys for one processor (see the module docstring)."""

    def __init__(
        self,
        namespace: str,
        max_key_bytes: int = 512,
        *,
        max_value_bytes: int | None = None,
        max_keys: int | None = None,
    ) -> None:
        self.namespace = check_namespace(namespace)
        self.max_key_bytes = max_key_bytes
        self.max_value_bytes = max_value_bytes
        self.max_keys = max_keys

    def __repr__(self) -> str:
        return f"KeyRules(namespace={self.namespace!r}, max_key_bytes={self.max_key_bytes})"

    def check(self, key: str, *, prefix: bool = False) -> KeyDecision:
        """Check a key (or, with ``prefix=True``, a ``list-keys`` prefix)."""
        problem = self._problem(key, prefix=prefix)
        if problem is not None:
            return KeyDecision(False, problem[1], problem[0])
        return KeyDecision(True, "key allowed", KvCode.OK, f"{self.namespace}{SEPARATOR}{key}")

    def _problem(self, key: str, *, prefix: bool) -> tuple[KvCode, str] | None:
        what = "prefix" if prefix else "key"
        if not isinstance(key, str):
            return KvCode.BAD_CHARACTER, f"the {what} is not a string"
        if not key and not prefix:
            return KvCode.EMPTY, "the key is empty"
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            return KvCode.BAD_CHARACTER, f"the {what} contains a lone surrogate"
        if size > self.max_key_bytes:
            return KvCode.TOO_LONG, f"the {what} is {size} bytes; at most {self.max_key_bytes}"
        for index, ch in enumerate(key):
            if unicodedata.category(ch) in _BAD_CATEGORIES:
                return KvCode.BAD_CHARACTER, (
                    f"the {what} contains control or invisible character U+{ord(ch):04X} at "
                    f"position {index}"
                )
        if key[:1].isspace() or (key[-1:].isspace() and not prefix):
            return KvCode.WHITESPACE, f"the {what} starts or ends with whitespace"
        if key.startswith(SEPARATOR):
            return KvCode.NAMESPACE_ESCAPE, (
                f"the {what} starts with the namespace separator {SEPARATOR!r}"
            )
        segments = key.replace("/", SEPARATOR).split(SEPARATOR)
        if prefix:
            segments = segments[:-1]  # a prefix's last segment may be the start of ".x"
        if any(segment in {".", ".."} for segment in segments):
            return KvCode.NAMESPACE_ESCAPE, f"the {what} contains a '.' or '..' segment"
        return None

    def full_key(self, key: str) -> str:
        """Return ``namespace:key``; raise :class:`ValueError` if the key is refused."""
        decision = self.check(key)
        if decision.full_key is None:
            raise ValueError(decision.reason)
        return decision.full_key

    def strip_namespace(self, full_key: str) -> str | None:
        """Return the guest's key for a stored key, or None if it is not in this namespace."""
        head = self.namespace + SEPARATOR
        return full_key[len(head) :] if full_key.startswith(head) else None

    def scan_pattern(self, prefix: str) -> str:
        """Return the Redis ``SCAN MATCH`` pattern for keys starting with ``prefix`` literally."""
        decision = self.check(prefix, prefix=True)
        if not decision.allowed:
            raise ValueError(decision.reason)
        return f"{_escape_glob(self.namespace)}{SEPARATOR}{_escape_glob(prefix)}*"

    def check_value(self, value: str) -> KeyDecision:
        """Check a value's size against ``max_value_bytes`` (``storage-full`` if too large)."""
        size = len(value.encode("utf-8", "surrogatepass"))
        if self.max_value_bytes is not None and size > self.max_value_bytes:
            return KeyDecision(
                False,
                f"the value is {size} bytes; at most {self.max_value_bytes}",
                KvCode.VALUE_TOO_LARGE,
            )
        return KeyDecision(True, "value allowed", KvCode.OK)

    def check_key_count(self, current_keys: int) -> KeyDecision:
        """Check that one more key fits under ``max_keys`` (``storage-full`` if not)."""
        if self.max_keys is not None and current_keys >= self.max_keys:
            return KeyDecision(
                False,
                f"the namespace holds {current_keys} keys; at most {self.max_keys}",
                KvCode.STORAGE_FULL,
            )
        return KeyDecision(True, "room for another key", KvCode.OK)

    @staticmethod
    def ttl(seconds: int | None, ttl_max: float | None) -> int | None:
        """Return the TTL to store, capped at ``ttl_max`` seconds (None = never expires).

        A key never outlives ``ttl_max``: with no TTL requested, ``ttl_max`` (rounded up to a
        whole second) is used.  Requested TTLs are whole seconds (the WIT ``u32``); negative ones
        raise :class:`ValueError`; ``0`` is returned as is (for ``expire`` it means now).
        """
        if seconds is not None and seconds < 0:
            raise ValueError(f"a TTL cannot be negative, got {seconds}")
        cap = None if ttl_max is None else max(1, math.ceil(ttl_max))
        if seconds is None:
            return cap
        return seconds if cap is None else min(seconds, cap)

    @staticmethod
    def check_increment(current: int, delta: int) -> KeyDecision:
        """Return the new counter value, or refuse if it would leave the s64 range."""
        for name, number in (("current value", current), ("delta", delta)):
            if not S64_MIN <= number <= S64_MAX:
                return KeyDecision(
                    False, f"the {name} {number} is not a signed 64-bit integer", KvCode.OVERFLOW
                )
        result = current + delta
        if not S64_MIN <= result <= S64_MAX:
            return KeyDecision(
                False, f"{current} + {delta} overflows a signed 64-bit integer", KvCode.OVERFLOW
            )
        return KeyDecision(True, "increment fits", KvCode.OK, value=result)
