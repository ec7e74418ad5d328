"""In-memory twin of :class:`~reference_host.backends.redis.RedisBackend`.

Same methods, same answers, same failure modes as the Redis backend, in one process:

* keys and values are ``str``; each key may carry an expiry instant on an injectable ``clock``
  (seconds, ``time.monotonic`` by default), checked lazily on every access, so tests move time
  with a fake clock instead of sleeping;
* :meth:`MemoryBackend.ttl` answers like Redis ``TTL``: ``-2`` for a missing key, ``-1`` for a key
  without expiry, else the seconds left rounded to the nearest second;
* ``SCAN MATCH`` patterns follow Redis's ``stringmatchlen`` exactly (:func:`glob_match`): ``*``,
  ``?`` and ``[...]`` (``^`` negates, ``a-z`` ranges in either order, a backslash escapes) over the
  UTF-8 *bytes* of the key, as Redis matches them;
* ``incrby`` parses values as Redis's ``string2ll`` does (``"0"``, ``"-12"``; not ``"+1"``,
  ``"01"``, ``"-0"``, ``" 1"``) and refuses to leave the signed 64-bit range, leaving the value
  unchanged; errors are :class:`ReplyError` with redis-py's wording of Redis's error replies;
* ``max_memory_bytes`` (keys + values, UTF-8) imitates ``maxmemory`` with ``noeviction``: a write
  that would exceed it raises :class:`OutOfMemoryReply`;
* a spent budget (``timeout <= 0``) raises the built-in :class:`TimeoutError` before anything
  is read or changed, as the Redis backend does.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "NOT_AN_INTEGER",
    "OUT_OF_MEMORY",
    "OVERFLOW",
    "MemoryBackend",
    "OutOfMemoryReply",
    "ReplyError",
    "glob_match",
]

NOT_AN_INTEGER = "value is not an integer or out of range"
OVERFLOW = "increment or decrement would overflow"
OUT_OF_MEMORY = "command not allowed when used memory > 'maxmemory'."
_S64_MIN, _S64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"(?:0|-?[1-9][0-9]{0,19})\Z")


class ReplyError(Exception):
    """An error reply of the twin, worded as redis-py words Redis's (``ResponseError``)."""


class OutOfMemoryReply(ReplyError):
    """The twin's ``maxmemory`` is reached (redis-py's ``OutOfMemoryError``)."""


def _class_set(pattern: bytes, i: int) -> tuple[set[int], int]:
    """Parse the ``[...]`` class starting after ``[`` at ``i``; return (bytes matched, next i)."""
    negate = i < len(pattern) and pattern[i] == ord("^")
    i += negate
    members: set[int] = set()
    while i < len(pattern):
        ch = pattern[i]
        if ch == ord("\\") and i + 1 < len(pattern):
            members.add(pattern[i + 1])
            i += 2
        elif ch == ord("]"):
            i += 1
            break
        elif i + 2 < len(pattern) and pattern[i + 1] == ord("-"):
            low, high = sorted((ch, pattern[i + 2]))
            members.update(range(low, high + 1))
            i += 3
        else:
            members.add(ch)
            i += 1
    return (set(range(256)) - members if negate else members), i


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[bytes]:
    raw, i, out = pattern.encode("utf-8", "surrogatepass"), 0, [b"(?s)"]
    while i < len(raw):
        ch = raw[i]
        if ch == ord("*"):
            out.append(b".*")
        elif ch == ord("?"):
            out.append(b".")
        elif ch == ord("["):
            members, i = _class_set(raw, i + 1)
            body = b"".join(b"\\x%02x" % m for m in sorted(members))
            out.append(b"[" + body + b"]" if body else b"(?!)")
            continue
        else:
            if ch == ord("\\") and i + 1 < len(raw):
                i += 1
            out.append(b"\\x%02x" % raw[i])
        i += 1
    return re.compile(b"".join(out))


def glob_match(pattern: str, key: str) -> bool:
    """Whether Redis ``SCAN MATCH pattern`` would return ``key`` (byte-wise, see the module)."""
    return _compile(pattern).fullmatch(key.encode("utf-8", "surrogatepass")) is not None


@dataclass(slots=True)
class _Entry:
    value: str
    expires_at: float | None = None


class MemoryBackend:
    """The key-value seam over a dict (see the module docstring); not shared between processes."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_memory_bytes: int | None = None,
    ) -> None:
        self.clock = clock
        self.max_memory_bytes = max_memory_bytes
        self._data: dict[str, _Entry] = {}

    def __repr__(self) -> str:
        return f"MemoryBackend(keys={len(self._data)})"

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _start(timeout: float) -> None:
        if timeout <= 0:
            raise TimeoutError("the call's time budget is spent")

    def _live(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self.clock():
            del self._data[key]
            return None
        return entry

    def _live_keys(self) -> list[str]:
        return [key for key in list(self._data) if self._live(key) is not None]

    def _check_memory(self, key: str, value: str) -> None:
        if self.max_memory_bytes is None:
            return
        old = self._data.get(key)
        used = sum(len(k.encode()) + len(e.value.encode()) for k, e in self._data.items())
        used -= len(key.encode()) + len(old.value.encode()) if old is not None else 0
        if used + len(key.encode()) + len(value.encode()) > self.max_memory_bytes:
            raise OutOfMemoryReply(OUT_OF_MEMORY)

    def _expiry(self, seconds: int | None) -> float | None:
        if seconds is None:
            return None
        if seconds <= 0:
            raise ReplyError("invalid expire time in set")
        return self.clock() + seconds

    # ------------------------------------------------------------------ the seam

    def get(self, key: str, timeout: float) -> str | None:
        """``GET``: the value, or None for a missing (or expired) key."""
        self._start(timeout)
        entry = self._live(key)
        return None if entry is None else entry.value

    def set(
        self,
        key: str,
        value: str,
        ttl: int | None,
        timeout: float,
        *,
        only_if_exists: bool = False,
    ) -> bool:
        """``SET key value [XX] [EX ttl]``: store (dropping any old expiry); False if XX missed."""
        self._start(timeout)
        if only_if_exists and self._live(key) is None:
            return False
        expires_at = self._expiry(ttl)
        self._check_memory(key, value)
        self._data[key] = _Entry(value, expires_at)
        return True

    def delete(self, key: str, timeout: float) -> bool:
        """``DEL``: whether the key existed."""
        self._start(timeout)
        return self._live(key) is not None and self._data.pop(key, None) is not None

    def exists(self, key: str, timeout: float) -> bool:
        """``EXISTS``."""
        self._start(timeout)
        return self._live(key) is not None

    def scan(self, pattern: str, limit: int, timeout: float) -> list[str]:
        """``SCAN MATCH pattern`` until ``limit`` keys are found (insertion order)."""
        self._start(timeout)
        found: list[str] = []
        for key in self._live_keys():
            if len(found) >= limit:
                break
            if glob_match(pattern, key):
                found.append(key)
        return found

    def count(self, pattern: str, timeout: float) -> int:
        """How many live keys match ``pattern``."""
        self._start(timeout)
        return sum(1 for key in self._live_keys() if glob_match(pattern, key))

    def incrby(self, key: str, delta: int, ttl_if_created: int | None, timeout: float) -> int:
        """``INCRBY`` (atomic); a key it creates gets ``ttl_if_created`` seconds of life."""
        self._start(timeout)
        entry = self._live(key)
        current = 0
        if entry is not None:
            if not _INTEGER.match(entry.value) or not _S64_MIN <= int(entry.value) <= _S64_MAX:
                raise ReplyError(NOT_AN_INTEGER)
            current = int(entry.value)
        if not _S64_MIN <= delta <= _S64_MAX:
            raise ReplyError(NOT_AN_INTEGER)
        result = current + delta
        if not _S64_MIN <= result <= _S64_MAX:
            raise ReplyError(OVERFLOW)
        self._check_memory(key, str(result))
        if entry is None:
            expires_at = self.clock() + ttl_if_created if ttl_if_created else None
            self._data[key] = _Entry(str(result), expires_at)
        else:
            entry.value = str(result)  # INCRBY keeps the key's expiry
        return result

    def expire(self, key: str, seconds: int, timeout: float) -> bool:
        """``EXPIRE``: False for a missing key; ``seconds <= 0`` deletes the key now."""
        self._start(timeout)
        entry = self._live(key)
        if entry is None:
            return False
        if seconds <= 0:
            del self._data[key]
        else:
            entry.expires_at = self.clock() + seconds
        return True

    def ttl(self, key: str, timeout: float) -> int:
        """``TTL``: -2 missing, -1 no expiry, else seconds left rounded to the nearest second."""
        self._start(timeout)
        entry = self._live(key)
        if entry is None:
            return -2
        if entry.expires_at is None:
            return -1
        left_ms = math.ceil((entry.expires_at - self.clock()) * 1000)
        return (left_ms + 500) // 1000

    def close(self) -> None:
        """Forget every key."""
        self._data.clear()
