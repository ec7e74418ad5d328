"""The key-value seam on a Redis server, through one redis-py connection.

* **One connection, opened lazily** on the first call (so building the capability never blocks),
  reopened after a failure by the next call.  Guest calls are sequential, so one connection is
  all an instance needs.
* **Every command is bounded by the caller's budget.**  Each seam method takes ``timeout``, the
  seconds left in the current guest call; before *each* command the connection's connect and
  socket timeouts are set to what is left of it, and a spent budget raises the built-in
  :class:`TimeoutError` before anything is sent.  A method that needs several round trips
  (``SCAN`` loops, ``EVALSHA`` then ``EVAL``) therefore never outlives the call.
* **No retries**: ``Retry(NoBackoff(), 0)`` on the connection (a ``redis.Redis`` that builds its
  own pool retries three times with backoff), so a failure surfaces at once and the guest decides.
* Errors are redis-py's own exceptions (``redis.exceptions.TimeoutError``, ``ConnectionError``,
  ``ResponseError``, ...); the capability maps them to ``kv-error`` at its one boundary.
* Keys are matched with ``SCAN ... MATCH ... COUNT 1000``, never ``KEYS`` (which blocks the
  server for the whole keyspace); ``SCAN`` may return a key twice, so results are de-duplicated.
  Keys that are not UTF-8 (written by other clients) are counted but never listed.
* ``incrby`` runs a small Lua script so that creating a counter and giving it its TTL happen
  atomically; the new value is read back as a string (Lua numbers are doubles, which cannot hold
  every s64), and an overflow leaves the value unchanged (``INCRBY`` refuses before writing).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import redis

__all__ = ["SCAN_COUNT", "RedisBackend"]

SCAN_COUNT = 1000
"""``COUNT`` hint per ``SCAN`` round trip."""

_INCR_SCRIPT = """
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return redis.call('GET', KEYS[1])
"""
_SCHEMES = ("redis", "rediss", "unix")


def _sha1(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


class RedisBackend:
    """The key-value seam on the Redis server at ``url`` (see the module docstring).

    ``url`` is a ``redis://``, ``rediss://`` or ``unix://`` URL (password and DB index included);
    it is never shown in reprs or messages.  :meth:`close` releases the connection.
    """

    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in _SCHEMES:
            raise ValueError(
                f"a Redis URL must start with redis://, rediss:// or unix://, not {scheme!r}://"
            )
        self._url = url
        self._client: redis.Redis | None = None
        self._script_sha = _sha1(_INCR_SCRIPT)

    def __repr__(self) -> str:
        state = "connected" if self._client is not None else "not connected"
        return f"<RedisBackend {state}>"

    # ------------------------------------------------------------------ connection

    def _connect(self, seconds: float) -> redis.Redis:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        pool = redis.ConnectionPool.from_url(
            self._url,
            socket_timeout=seconds,
            socket_connect_timeout=seconds,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        try:  # a single-connection client connects in its constructor
            return redis.Redis(connection_pool=pool, single_connection_client=True)
        except BaseException:
            pool.disconnect()
            raise

    def _command(self, deadline: float, *args: Any) -> Any:
        """Run one command with the connection's timeouts set to what is left until ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call's time budget is spent")
        if self._client is None:
            self._client = self._connect(left)
            left = max(0.001, deadline - time.monotonic())
        conn: Any = self._client.connection
        conn.socket_timeout = conn.socket_connect_timeout = left
        update = getattr(conn, "update_current_socket_timeout", None)
        if update is not None:  # redis-py >= 7: the open socket and the parser's buffer
            update(left)
        elif getattr(conn, "_sock", None) is not None:
            conn._sock.settimeout(left)
        client: Any = self._client  # redis-py's execute_command is untyped
        return client.execute_command(*args)

    @staticmethod
    def _deadline(timeout: float) -> float:
        return time.monotonic() + timeout

    # ------------------------------------------------------------------ the seam

    def get(self, key: str, timeout: float) -> str | None:
        """``GET``: the value (UTF-8), or None for a missing key."""
        raw = self._command(self._deadline(timeout), "GET", key)
        return None if raw is None else bytes(raw).decode("utf-8")

    def set(
        self,
        key: str,
        value: str,
        ttl: int | None,
        timeout: float,
        *,
        only_if_exists: bool = False,
    ) -> bool:
        """``SET key value [XX] [EX ttl]``; False when ``XX`` found no key."""
        args: list[Any] = ["SET", key, value]
        if only_if_exists:
            args.append("XX")
        if ttl is not None:
            args += ["EX", ttl]
        return bool(self._command(self._deadline(timeout), *args))

    def delete(self, key: str, timeout: float) -> bool:
        """``DEL``: whether the key existed."""
        return int(self._command(self._deadline(timeout), "DEL", key)) > 0

    def exists(self, key: str, timeout: float) -> bool:
        """``EXISTS``."""
        return int(self._command(self._deadline(timeout), "EXISTS", key)) > 0

    def _scan(self, pattern: str, deadline: float, limit: int | None, *, text: bool) -> list[Any]:
        """Distinct keys matching ``pattern``, in ``SCAN`` order: UTF-8 ``str`` or any ``bytes``."""
        cursor, found = 0, dict[Any, None]()  # ordered and de-duplicated
        while True:
            reply = self._command(deadline, "SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)
            cursor = int(reply[0])
            for raw in reply[1]:
                try:
                    found[bytes(raw).decode("utf-8") if text else bytes(raw)] = None
                except UnicodeDecodeError:
                    continue
            if cursor == 0 or (limit is not None and len(found) >= limit):
                return list(found)[:limit]

    def scan(self, pattern: str, limit: int, timeout: float) -> list[str]:
        """``SCAN MATCH pattern`` until ``limit`` distinct UTF-8 keys are found (or the end)."""
        return self._scan(pattern, self._deadline(timeout), limit, text=True)

    def count(self, pattern: str, timeout: float) -> int:
        """How many distinct keys match ``pattern`` (a full ``SCAN``: O(keys in the database))."""
        return len(self._scan(pattern, self._deadline(timeout), None, text=False))

    def incrby(self, key: str, delta: int, ttl_if_created: int | None, timeout: float) -> int:
        """``INCRBY`` (atomic, Lua); a key it creates gets ``ttl_if_created`` seconds of life."""
        from redis.exceptions import NoScriptError

        deadline, ttl = self._deadline(timeout), ttl_if_created or 0
        try:
            raw = self._command(deadline, "EVALSHA", self._script_sha, 1, key, delta, ttl)
        except NoScriptError:  # first use on this server: send the script itself
            raw = self._command(deadline, "EVAL", _INCR_SCRIPT, 1, key, delta, ttl)
        return int(raw)

    def expire(self, key: str, seconds: int, timeout: float) -> bool:
        """``EXPIRE``: False for a missing key; ``seconds <= 0`` deletes the key now."""
        return bool(self._command(self._deadline(timeout), "EXPIRE", key, seconds))

    def ttl(self, key: str, timeout: float) -> int:
        """``TTL``: -2 missing, -1 no expiry, else seconds left."""
        return int(self._command(self._deadline(timeout), "TTL", key))

    def close(self) -> None:
        """Close the connection (idempotent); a later call reconnects."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
            client.connection_pool.disconnect()
