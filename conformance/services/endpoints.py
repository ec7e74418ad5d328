"""Connection parameters of one PostgreSQL database or one Redis database index.

Frozen values parsed from and rendered as URLs.  Passwords never appear in reprs, ``str()`` or
:attr:`~_Endpoint.redacted_url`; only :attr:`~_Endpoint.url` and ``conninfo`` carry them.  The
drivers (psycopg, redis-py) are imported when a connection is opened, not before.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    import psycopg
    import redis


def _netloc(host: str, port: int, user: str, password: str) -> str:
    auth = quote(user, safe="") + (f":{password}" if password else "")
    return f"{auth + '@' if auth else ''}{f'[{host}]' if ':' in host else host}:{port}"


class _Endpoint:
    """URL helpers shared by the endpoints; subclasses define ``password`` and ``_url``."""

    password: str

    def _url(self, password: str) -> str:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Full URL, password included: never log it."""
        return self._url(quote(self.password, safe=""))

    @property
    def redacted_url(self) -> str:
        """URL with the password masked."""
        return self._url("***" if self.password else "")

    def __str__(self) -> str:
        return self.redacted_url


@dataclasses.dataclass(frozen=True, repr=False)
class PostgresEndpoint(_Endpoint):
    """Connection parameters of a PostgreSQL database; extra URL query items live in ``params``."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_url(cls, url: str) -> PostgresEndpoint:
        """Parse a ``postgresql://`` URL."""
        p = urlsplit(url)
        if p.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"not a postgresql:// URL (scheme {p.scheme!r})")
        user, password = unquote(p.username or ""), unquote(p.password or "")
        dbname = unquote(p.path.lstrip("/")) or "postgres"
        return cls(
            p.hostname or "localhost",
            p.port or 5432,
            user,
            password,
            dbname,
            tuple(parse_qsl(p.query)),
        )

    def with_search_path(self, schema: str) -> PostgresEndpoint:
        """Return a copy whose sessions start with ``search_path`` set to ``schema``."""
        params = dict(self.params)
        params["options"] = f"{params.get('options', '')} -csearch_path={schema}".strip()
        return dataclasses.replace(self, params=tuple(params.items()))

    def _url(self, password: str) -> str:
        query = f"?{urlencode(self.params)}" if self.params else ""
        netloc = _netloc(self.host, self.port, self.user, password)
        return f"postgresql://{netloc}/{quote(self.dbname, safe='')}{query}"

    @property
    def conninfo(self) -> str:
        """Libpq ``key=value`` string, password included: never log it."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.dbname,
            **dict(self.params),
        )

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """Open a psycopg connection (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.conninfo, connect_timeout=10, **kwargs)

    def __repr__(self) -> str:
        return (
            f"PostgresEndpoint(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={'***' if self.password else ''!r}, dbname={self.dbname!r})"
        )


@dataclasses.dataclass(frozen=True, repr=False)
class RedisEndpoint(_Endpoint):
    """Connection parameters of one Redis database index."""

    host: str
    port: int
    db: int = 0
    password: str = ""
    username: str = ""
    ssl: bool = False

    @classmethod
    def from_url(cls, url: str) -> RedisEndpoint:
        """Parse a ``redis://`` or ``rediss://`` URL."""
        p = urlsplit(url)
        if p.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a redis:// URL (scheme {p.scheme!r})")
        db = int(p.path.lstrip("/") or dict(parse_qsl(p.query)).get("db", "0"))
        user, password = unquote(p.username or ""), unquote(p.password or "")
        return cls(
            p.hostname or "localhost", p.port or 6379, db, password, user, p.scheme == "rediss"
        )

    def _url(self, password: str) -> str:
        netloc = _netloc(self.host, self.port, self.username, password)
        return f"redis{'s' if self.ssl else ''}://{netloc}/{self.db}"

    def client(self, *, probe: bool = False, **kwargs: Any) -> redis.Redis:
        """Return a redis-py client; ``probe=True``: short timeouts and no retries (for PING)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if probe:
            kwargs.update(socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            ssl=self.ssl,
            password=self.password or None,
            username=self.username or None,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"RedisEndpoint(host={self.host!r}, port={self.port}, db={self.db}, "
            f"password={'***' if self.password else ''!r})"
        )
