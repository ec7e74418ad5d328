"""Handles on a running PostgreSQL or Redis server: embedded, a container, or given by URL.

A :class:`Service` knows its endpoint, where it came from (``origin``: ``env``, ``docker``,
``embedded``) and whether the harness started it (``owned``); closing it stops what the harness
started and nothing else.  :class:`PostgresService` and :class:`RedisService` hand out the
per-run isolation of :mod:`conformance.services.isolation`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from conformance.services.endpoints import PostgresEndpoint, RedisEndpoint
from conformance.services.errors import ServiceUnavailableError
from conformance.services.isolation import (
    PRIVILEGES,
    IsolatedNamespace,
    IsolatedSchema,
    drop_role_statements,
    restricted_role_statements,
    unique_name,
)
from conformance.services.process import Resources

if TYPE_CHECKING:
    import psycopg


class Service:
    """Common lifecycle; ``owned`` says the harness started the server and will stop it."""

    _endpoint_type: Any

    def __init__(
        self, endpoint: Any, *, owned: bool, origin: str, resources: Resources | None = None
    ) -> None:
        self.endpoint = endpoint
        self.owned, self.origin, self.setup_seconds = owned, origin, 0.0
        self._lock = threading.Lock()
        self._resources = resources
        self._finalizer = weakref.finalize(self, resources.release) if resources else None

    @property
    def pid(self) -> int | None:
        """PID of the embedded server process, if the harness runs one."""
        proc = self._resources.proc if self._resources else None
        return proc.pid if proc else None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Self:
        """Wrap a server given by URL (``owned`` must be False)."""
        return cls(cls._endpoint_type.from_url(url), **kwargs)

    def ping(self) -> None:
        """Raise unless the server answers."""
        raise NotImplementedError

    @property
    def work_dir(self) -> Path | None:
        """Temp dir of the embedded server (data, config, logs); removed on close."""
        return self._resources.tmp if self._resources else None

    def _owned(self) -> Resources:
        if self._resources is None or not self.owned:
            raise ServiceUnavailableError(
                f"{self!r} was not started by this harness: faults are injected only into "
                "embedded servers"
            )
        return self._resources

    def crash(self) -> None:
        """Kill the embedded server (SIGKILL); :meth:`restart` brings it back on its port."""
        self._owned().kill()

    def restart(self) -> None:
        """Start the embedded server again on the same port (its data kept)."""
        self._owned().restart()

    def freeze(self) -> None:
        """Stop the embedded server (SIGSTOP, its worker processes too): a hung service."""
        self._owned().freeze()

    def thaw(self) -> None:
        """Continue (SIGCONT) a frozen embedded server."""
        self._owned().thaw()

    def close(self) -> None:
        """Stop what the harness started and remove its temp dir (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.origin} owned={self.owned} {self.endpoint}>"


class PostgresService(Service):
    """A PostgreSQL server: embedded, a container, or given by URL."""

    _endpoint_type = PostgresEndpoint

    endpoint: PostgresEndpoint

    def __init__(self, endpoint: PostgresEndpoint, **kwargs: Any) -> None:
        super().__init__(endpoint, **kwargs)
        self._admin: psycopg.Connection[Any] | None = None
        self._roles: set[str] = set()

    def ping(self) -> None:
        """Raise unless the server accepts a connection."""
        self.endpoint.connect().close()

    def execute(self, *statements: Any) -> None:
        """Run statements in one transaction on the harness's admin connection."""
        with self._lock:
            if self._admin is None or self._admin.closed:
                self._admin = self.endpoint.connect()
                self._admin.execute("SET lock_timeout = '10s'")
            with self._admin.transaction():
                for statement in statements:
                    self._admin.execute(statement)

    @contextlib.contextmanager
    def isolated_schema(self, prefix: str = "t") -> Iterator[IsolatedSchema]:
        """Create a uniquely named schema; drop it (CASCADE) and its roles afterwards."""
        from psycopg import sql

        name = unique_name(prefix)
        self.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        schema = IsolatedSchema(name, self.endpoint.with_search_path(name), self)
        try:
            yield schema
        finally:
            for role in schema.roles:
                self.drop_role(role)
            self.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    def create_restricted_role(
        self, schema: str, tables: Sequence[str], privileges: Sequence[str] = ("SELECT",)
    ) -> tuple[str, str]:
        """Create a LOGIN role with ``privileges`` on ``schema.<tables>`` only: (role, password)."""
        privs = [p.upper() for p in privileges]
        if not privs or not set(privs) <= PRIVILEGES:
            raise ValueError(f"privileges must be a non-empty subset of {sorted(PRIVILEGES)}")
        role, password = unique_name("flowctl_role"), secrets.token_urlsafe(24)
        self.execute(*restricted_role_statements(role, password, schema, tables, privs))
        self._roles.add(role)
        return role, password

    def restart(self) -> None:
        """Start the embedded server again; the harness's admin connection reconnects."""
        super().restart()
        with self._lock:
            if self._admin is not None:
                self._admin.close()
            self._admin = None

    def drop_role(self, role: str) -> None:
        """Disconnect and drop a role made by :meth:`create_restricted_role`."""
        self.execute(*drop_role_statements(role))
        self._roles.discard(role)

    def close(self) -> None:
        """Drop leftover roles (they are cluster-wide), close the admin connection, stop."""
        try:
            for role in list(self._roles):
                self.drop_role(role)
        finally:
            if self._admin is not None:
                self._admin.close()
            super().close()


class RedisService(Service):
    """A Redis server: embedded, a container, or given by URL (then never FLUSHDB)."""

    _endpoint_type = RedisEndpoint

    endpoint: RedisEndpoint

    def __init__(self, endpoint: RedisEndpoint, databases: int = 16, **kwargs: Any) -> None:
        super().__init__(endpoint, **kwargs)
        self._free_dbs = list(range(databases - 1, 0, -1)) if self.owned else []

    def ping(self) -> None:
        """Raise unless the server answers PING."""
        with self.endpoint.client(probe=True) as client:
            client.ping()

    @contextlib.contextmanager
    def isolated_namespace(self, prefix: str = "t") -> Iterator[IsolatedNamespace]:
        """Yield a namespace: owned server, flush its DB before/after; else delete prefixed keys."""
        with self._lock:
            db = self._free_dbs.pop() if self._free_dbs else None
        endpoint = self.endpoint if db is None else dataclasses.replace(self.endpoint, db=db)
        space = IsolatedNamespace(f"{unique_name(prefix)}:", endpoint, db is not None)
        try:
            if db is not None:
                space.clear()
            yield space
        finally:
            space.clear()
            if db is not None:
                with self._lock:
                    self._free_dbs.append(db)
