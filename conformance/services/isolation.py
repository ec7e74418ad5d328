"""Per-run isolation on a shared server: a fresh schema, a restricted role, a key namespace.

:class:`IsolatedSchema` and :class:`IsolatedNamespace` are what
:meth:`~conformance.services.servers.PostgresService.isolated_schema` and
:meth:`~conformance.services.servers.RedisService.isolated_namespace` yield; the SQL that makes a
role reach only its schema's tables, and the key deletion for a namespace on a server the harness
does not own, live here too.  Every name is unique (:func:`unique_name`), so runs sharing one
server never meet.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conformance.services.endpoints import PostgresEndpoint, RedisEndpoint

if TYPE_CHECKING:
    import redis

    from conformance.services.servers import PostgresService

#: Table privileges a restricted role may be given.
PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"})


def unique_name(prefix: str) -> str:
    """Return ``<prefix>_<random>``, lower case, safe as an SQL identifier and a Redis glob."""
    clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower()).strip("_")[:40]
    return f"{clean if clean[:1].isalpha() else 't' + clean}_{secrets.token_hex(6)}"


# ---------------------------------------------------------------------- PostgreSQL


def grant_statements(
    schema: str, role: str, tables: Sequence[str], privileges: Sequence[str]
) -> list[Any]:
    """USAGE on ``schema`` and ``privileges`` on its ``tables`` for ``role``."""
    from psycopg import sql

    ident, schema_ident = sql.Identifier(role), sql.Identifier(schema)
    stmts = [sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_ident, ident)]
    if tables:
        names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables)
        grants = sql.SQL(", ").join(map(sql.SQL, privileges))
        stmts.append(sql.SQL("GRANT {} ON TABLE {} TO {}").format(grants, names, ident))
    return stmts


def restricted_role_statements(
    role: str, password: str, schema: str, tables: Sequence[str], privileges: Sequence[str]
) -> list[Any]:
    """Create a LOGIN ``role`` without any power but ``privileges`` on ``schema.<tables>``."""
    from psycopg import sql

    ident, schema_ident = sql.Identifier(role), sql.Identifier(schema)
    return [
        sql.SQL(
            "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
            "NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 16 PASSWORD {}"
        ).format(ident, sql.Literal(password)),
        sql.SQL("ALTER ROLE {} SET search_path = {}").format(ident, schema_ident),
        *grant_statements(schema, role, tables, privileges),
    ]


def drop_role_statements(role: str) -> list[Any]:
    """Disconnect ``role``'s sessions, drop what it owns, drop it."""
    from psycopg import sql

    kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}"
    return [
        sql.SQL(kill).format(sql.Literal(role)),
        sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)),
        sql.SQL("DROP ROLE {}").format(sql.Identifier(role)),
    ]


@dataclasses.dataclass(frozen=True)
class IsolatedSchema:
    """A fresh schema; ``endpoint`` (and ``url``/``conninfo``) sets ``search_path`` to it."""

    name: str
    endpoint: PostgresEndpoint
    service: PostgresService = dataclasses.field(repr=False, compare=False)
    roles: list[str] = dataclasses.field(default_factory=list, repr=False, compare=False)
    grants: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = dataclasses.field(
        default_factory=list, repr=False, compare=False
    )

    @property
    def url(self) -> str:
        """URL with password and ``options=-csearch_path=<schema>``: never log it."""
        return self.endpoint.url

    @property
    def conninfo(self) -> str:
        """Libpq conninfo with ``search_path`` set to this schema: never log it."""
        return self.endpoint.conninfo

    def create_restricted_role(
        self, tables: Sequence[str], privileges: Sequence[str] = ("SELECT",)
    ) -> tuple[str, str]:
        """Create a LOGIN role limited to ``tables`` of this schema; dropped with the schema."""
        role, password = self.service.create_restricted_role(self.name, tables, privileges)
        self.roles.append(role)
        self.grants.append((role, tuple(tables), tuple(privileges)))
        return role, password

    def reset(self, *setup: Any) -> None:
        """Empty the schema back to what ``setup`` makes.

        Drop and re-create it, run ``setup`` (statements, with ``search_path`` set to the
        schema) and grant the roles again.

        Connections open on the schema stay valid: they find the new tables by name.
        """
        from psycopg import sql

        ident = sql.Identifier(self.name)
        self.service.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident),
            sql.SQL("CREATE SCHEMA {}").format(ident),
            sql.SQL("SET LOCAL search_path TO {}").format(ident),
            *setup,
        )
        for role, tables, privileges in self.grants:
            self.service.execute(*grant_statements(self.name, role, tables, privileges))

    def role_endpoint(self, role: str, password: str) -> PostgresEndpoint:
        """Return this schema's endpoint with another role's credentials."""
        return dataclasses.replace(self.endpoint, user=role, password=password)


# ---------------------------------------------------------------------- Redis


@dataclasses.dataclass(frozen=True)
class IsolatedNamespace:
    """A unique key prefix and, on a server the harness owns, a DB index of its own."""

    prefix: str
    endpoint: RedisEndpoint
    dedicated_db: bool

    @property
    def url(self) -> str:
        """URL of the namespace's DB index, password included: never log it."""
        return self.endpoint.url

    @property
    def namespace(self) -> str:
        """The prefix as a key-value ``namespace`` (the capability adds the ``:``)."""
        return self.prefix.removesuffix(":")

    def key(self, name: str) -> str:
        """Return ``name`` under this namespace's prefix."""
        return f"{self.prefix}{name}"

    def clear(self) -> None:
        """Delete everything stored here (its own DB: FLUSHDB; a shared one: prefixed keys)."""
        with self.endpoint.client() as client:
            if self.dedicated_db:
                client.flushdb()
            else:
                delete_prefixed_keys(client, self.prefix)


def delete_prefixed_keys(client: redis.Redis, prefix: str) -> int:
    """Delete the keys that start with ``prefix`` (SCAN + DEL); return how many went."""
    pattern, deleted, batch = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*", 0, []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted, batch = deleted + int(client.delete(*batch)), []
    return deleted + (int(client.delete(*batch)) if batch else 0)
