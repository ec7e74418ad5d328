"""database capability against a real PostgreSQL (embedded, one server for the module).

Every test gets a fresh schema with `events`, `token_transfers` and `secrets`, and the component
connects as a restricted role holding privileges on `events` and `token_transfers` only (defence
in depth: the second fence behind the SQL rules).  A recording proxy in front of the backend
proves that refused statements never reach the server.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pydantic import SecretStr

from conformance import services as svc
from conformance.probes import SQL_DDL
from reference_host.backends.postgres import BackendError, PostgresBackend
from reference_host.capabilities.base import HostContext
from reference_host.capabilities.database import DatabaseCapability
from reference_host.grants import DatabaseGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.types import DbError, Err, Ok, QueryResult

pytestmark = pytest.mark.integration

PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "probes" / "sql.yaml"
TABLES = ("events", "token_transfers", "secrets")
DDL = SQL_DDL  # the schema the probe corpus assumes (shared with SBX-004)
ALL_OPS = ("SELECT", "INSERT", "UPDATE", "DELETE")


@functools.cache
def probes() -> list[dict[str, Any]]:
    return list(yaml.safe_load(PROBES.read_text(encoding="utf-8"))["probes"])


class Recording:
    """Proxy of a DatabaseBackend that records every statement it is asked to send."""

    def __init__(self, inner: PostgresBackend) -> None:
        self.inner = inner
        self.sent: list[str] = []

    def run(self, sql, params, *, read_only, deadline):
        self.sent.append(sql)
        return self.inner.run(sql, params, read_only=read_only, deadline=deadline)

    def begin(self, *, deadline):
        self.sent.append("BEGIN")
        return self.inner.begin(deadline=deadline)

    def close(self):
        self.inner.close()


def context(seconds: float) -> HostContext:
    budget = CallBudget(ResourceLimits())
    budget.deadline = time.monotonic() + seconds
    return HostContext("c1", budget)


@dataclass
class Db:
    """One test's schema, its restricted role, and the capabilities made on it."""

    pg: svc.PostgresService
    schema: svc.IsolatedSchema
    role: str
    role_url: str
    caps: list[DatabaseCapability] = field(default_factory=list)
    _admin: psycopg.Connection[Any] | None = None

    def make(
        self,
        tables: Sequence[str] = ("events", "token_transfers"),
        operations: Sequence[str] = ALL_OPS,
        *,
        url: str | None = None,
        query_timeout: float = 5.0,
        seconds: float = 10.0,
    ) -> tuple[DatabaseCapability, Recording]:
        policy = DatabaseGrant(
            enabled=True,
            connection_string=SecretStr(url or self.role_url),
            allowed_tables=tuple(tables),
            allowed_operations=tuple(operations),
            query_timeout=query_timeout,
        )
        cap = DatabaseCapability.from_policy(policy, component_id="c1")
        assert isinstance(cap.backend, PostgresBackend)
        recording = Recording(cap.backend)
        cap.backend = recording
        cap.context = context(seconds)
        self.caps.append(cap)
        return cap, recording

    def backend(self) -> PostgresBackend:
        _, recording = self.make()
        return recording.inner

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read as the admin (outside any capability transaction)."""
        if self._admin is None:
            self._admin = self.schema.endpoint.connect()  # autocommit, superuser, our schema
        return self._admin.execute(sql, params).fetchall()

    def close(self) -> None:
        for cap in self.caps:
            cap.close()
        if self._admin is not None:
            self._admin.close()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t: self.rows(f"SELECT * FROM {t} ORDER BY 1") for t in TABLES}

    def sessions(self) -> list[tuple[str, str]]:
        """(state, application_name) of the restricted role's server sessions."""
        return self.rows(
            "SELECT state, application_name FROM pg_stat_activity WHERE usename = %s", self.role
        )


@pytest.fixture(scope="module")
def pg() -> Iterator[svc.PostgresService]:
    with svc.start_postgres("embedded") as service:
        yield service


def make_db(pg: svc.PostgresService, privileges: Sequence[str]) -> Iterator[Db]:
    with pg.isolated_schema("dbcap") as schema:
        pg.execute(f'SET LOCAL search_path TO "{schema.name}"', *DDL)
        role, password = schema.create_restricted_role(["events", "token_transfers"], privileges)
        db = Db(pg, schema, role, schema.role_endpoint(role, password).url)
        try:
            yield db
        finally:
            db.close()


@pytest.fixture
def db(pg: svc.PostgresService) -> Iterator[Db]:
    yield from make_db(pg, ALL_OPS)


def ok(out: Any) -> Any:
    assert isinstance(out, Ok), out
    return out.value


def err(out: Any) -> DbError:
    assert isinstance(out, Err), out
    assert isinstance(out.error, DbError)
    return out.error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- statements


def test_execute_and_query_round_trip_values_as_postgres_text(db: Db) -> None:
    cap, _ = db.make()
    assert ok(
        cap.execute("INSERT INTO events (id, kind) VALUES ($1, $2), ($3, NULL)", ["10", "t", "11"])
    ) == QueryResult([], [], 2)
    inserted = ok(
        cap.execute(
            "INSERT INTO token_transfers (hash, amount, event_id) VALUES ($1, $2, $3) "
            "RETURNING hash, amount, event_id",
            ["h1", "1.50", "10"],
        )
    )
    assert inserted == QueryResult([["h1", "1.50", "10"]], ["hash", "amount", "event_id"], 1)
    out = ok(
        cap.query(
            "SELECT id, kind, kind IS NULL AS missing, ts > now() - interval '1 hour' AS recent "
            "FROM events WHERE id >= $1 ORDER BY id",
            ["10"],
        )
    )
    assert out == QueryResult(
        [["10", "t", "f", "t"], ["11", "", "t", "t"]], ["id", "kind", "missing", "recent"], 2
    )
    assert ok(cap.execute("UPDATE events SET kind = $1 WHERE id >= 10", ["u"])).rows_affected == 2
    assert ok(cap.execute("DELETE FROM token_transfers WHERE hash = $1", ["h1"])).rows_affected == 1
    assert db.rows("SELECT id, kind FROM events WHERE id >= 10 ORDER BY id") == [
        (10, "u"),
        (11, "u"),
    ]
    assert db.sessions() == [("idle", "flowctl:c1")]  # one pooled connection, as the role


def test_parameters_are_data_never_sql(db: Db) -> None:
    cap, _ = db.make()
    evil = [
        "x'); DROP TABLE secrets; --",
        "1; DELETE FROM events",
        "' OR '1'='1",
        "$1 $2 %s %(x)s {0}",
        "ünï \\' \" \\x00",
    ]
    for i, value in enumerate(evil):
        ok(cap.execute("INSERT INTO events (id, kind) VALUES ($1, $2)", [str(100 + i), value]))
    rows = ok(cap.query("SELECT kind FROM events WHERE id >= $1 ORDER BY id", ["100"])).rows
    assert rows == [[v] for v in evil]
    assert ok(cap.query("SELECT id FROM events WHERE kind = $1", ["' OR '1'='1"])).rows == [["102"]]
    error = err(cap.query("SELECT id FROM events WHERE id = $1", ["1 OR 1=1"]))
    assert error.case == "query-failed" and "22P02" in error.value
    assert db.rows("SELECT count(*) FROM secrets") == [(1,)]
    assert db.rows("SELECT count(*) FROM events") == [(2 + len(evil),)]


def test_the_server_runs_one_statement_even_if_the_rules_were_bypassed(db: Db) -> None:
    backend = db.backend()
    for params in ([], ["1"]):
        with pytest.raises(BackendError) as info:
            backend.run(
                "SELECT 1; DELETE FROM events WHERE id > 0" + (" AND id = $1" if params else ""),
                params,
                read_only=False,
                deadline=time.monotonic() + 5,
            )
        assert info.value.error.case == "invalid-query"
        assert "multiple commands" in info.value.error.value
    assert db.rows("SELECT count(*) FROM events") == [(2,)]


def test_query_is_read_only_on_the_server(db: Db) -> None:
    backend = db.backend()
    before = db.snapshot()
    for sql in (
        "INSERT INTO events (id) VALUES (99)",
        "UPDATE events SET kind = 'x'",
        "WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d",
    ):
        with pytest.raises(BackendError) as info:
            backend.run(sql, [], read_only=True, deadline=time.monotonic() + 5)
        assert info.value.error.case == "permission-denied", sql
        assert "read-only transaction" in info.value.error.value
    assert db.snapshot() == before
    cap, recording = db.make()
    error = err(cap.query("WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d", []))
    assert error.case == "invalid-query"
    assert recording.sent == []


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        ("INSERT INTO events (id) VALUES (1)", "events_pkey"),
        ("INSERT INTO events (kind) VALUES ('no id')", None),
        (
            "INSERT INTO token_transfers (hash, amount) VALUES ('h9', -1)",
            "token_transfers_amount_check",
        ),
        (
            "INSERT INTO token_transfers (hash, event_id) VALUES ('h9', 404)",
            "token_transfers_event_id_fkey",
        ),
        ("DELETE FROM events WHERE id = 1", "token_transfers_event_id_fkey"),
    ],
)
def test_constraint_violations(db: Db, sql: str, constraint: str | None) -> None:
    cap, _ = db.make()
    before = db.snapshot()
    error = err(cap.execute(sql, []))
    assert error.case == "constraint-violation"
    if constraint:
        assert f"[constraint {constraint}]" in error.value
    assert db.snapshot() == before
    assert ok(cap.query("SELECT count(*) FROM events", [])).rows == [["2"]]  # connection reusable


# ---------------------------------------------------------------------- time


SLOW = "SELECT count(*) FROM events a, events b, events c"  # allowed by the rules, and slow


@pytest.mark.parametrize(("query_timeout", "seconds"), [(0.2, 10.0), (30.0, 0.3)])
def test_statement_timeout_is_the_smaller_of_query_timeout_and_call_budget(
    db: Db, query_timeout: float, seconds: float
) -> None:
    db.pg.execute(
        f'SET LOCAL search_path TO "{db.schema.name}"',
        "INSERT INTO events (id, kind) SELECT g, 'bulk' FROM generate_series(1000, 2999) g",
    )
    cap, recording = db.make(query_timeout=query_timeout, seconds=seconds)
    start = time.monotonic()
    assert err(cap.query(SLOW, [])) == DbError("timeout")
    elapsed = time.monotonic() - start
    assert min(query_timeout, seconds) - 0.05 <= elapsed < min(query_timeout, seconds) + 1.0
    assert recording.sent == [SLOW]
    cap.context = context(10.0)
    assert ok(cap.query("SELECT count(*) FROM events", [])).rows == [["2002"]]
    assert recording.inner.connections == 1  # the cancelled connection was rolled back, reused


def test_spent_call_budget_sends_nothing(db: Db) -> None:
    cap, recording = db.make(seconds=0.0)
    assert err(cap.query("SELECT * FROM events", [])) == DbError("timeout")
    assert err(cap.begin_transaction()) == DbError("timeout")
    assert recording.sent == []
    assert db.sessions() == []


# ---------------------------------------------------------------------- transactions


def test_transactions_commit_and_roll_back(db: Db) -> None:
    cap, _ = db.make()
    tid = ok(cap.begin_transaction())
    ok(cap.execute("INSERT INTO events (id, kind) VALUES (20, 'tx')", []))
    assert ok(cap.query("SELECT kind FROM events WHERE id = 20", [])).rows == [["tx"]]
    assert db.rows("SELECT count(*) FROM events WHERE id = 20") == [(0,)]  # not visible outside
    ok(cap.commit_transaction(tid))
    assert db.rows("SELECT kind FROM events WHERE id = 20") == [("tx",)]
    tid2 = ok(cap.begin_transaction())
    ok(cap.execute("INSERT INTO events (id, kind) VALUES (21, 'gone')", []))
    ok(cap.rollback_transaction(tid2))
    assert db.rows("SELECT count(*) FROM events WHERE id = 21") == [(0,)]
    for tid_ in (tid, tid2, "not-an-id"):
        assert err(cap.commit_transaction(tid_)).case == "query-failed"
    assert ok(cap.query("SELECT count(*) FROM events", [])).rows == [["3"]]


def test_an_error_aborts_the_transaction_and_commit_reports_it(db: Db) -> None:
    cap, _ = db.make()
    tid = ok(cap.begin_transaction())
    ok(cap.execute("INSERT INTO events (id) VALUES (30)", []))
    assert err(cap.execute("INSERT INTO events (id) VALUES (1)", [])).case == "constraint-violation"
    error = err(cap.query("SELECT 1 FROM events", []))
    assert error.case == "query-failed" and "rollback-transaction" in error.value
    error = err(cap.commit_transaction(tid))
    assert error.case == "query-failed" and "nothing was committed" in error.value
    assert cap.open_transactions == ()
    assert db.rows("SELECT count(*) FROM events WHERE id = 30") == [(0,)]
    assert db.sessions() == [("idle", "flowctl:c1")]


def test_reset_and_close_roll_back_open_transactions(db: Db) -> None:
    cap, _ = db.make()
    ok(cap.begin_transaction())
    ok(cap.execute("INSERT INTO events (id) VALUES (40)", []))
    ok(cap.begin_transaction())
    ok(cap.execute("INSERT INTO events (id) VALUES (41)", []))
    assert sorted(db.sessions()) == [("idle in transaction", "flowctl:c1")] * 2
    assert cap.reset() == 2  # what the host does when the instance traps or ends
    assert db.rows("SELECT count(*) FROM events WHERE id IN (40, 41)") == [(0,)]
    assert sorted(db.sessions()) == [("idle", "flowctl:c1")] * 2
    ok(cap.begin_transaction())
    ok(cap.execute("INSERT INTO events (id) VALUES (42)", []))
    cap.close()
    assert db.rows("SELECT count(*) FROM events WHERE id = 42") == [(0,)]
    deadline = time.monotonic() + 5
    while db.sessions() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert db.sessions() == []
    assert err(cap.query("SELECT * FROM events", [])).case == "connection-failed"


# ---------------------------------------------------------------------- the second fence


def test_restricted_role_refuses_what_the_rules_would_let_through(db: Db) -> None:
    with pytest.raises(BackendError) as info:
        db.backend().run("SELECT * FROM secrets", [], read_only=True, deadline=time.monotonic() + 5)
    assert info.value.error.case == "permission-denied"
    assert "secrets" in info.value.error.value and "grant it" in info.value.error.value
    cap, recording = db.make(tables=("events", "secrets"))  # a policy wider than the role
    error = err(cap.query("SELECT password FROM secrets", []))
    assert error.case == "permission-denied"
    assert recording.sent == ["SELECT password FROM secrets"]
    assert [(d.source, d.case) for d in cap.denials] == [("server", "permission-denied")]


def test_errors_the_server_finds(db: Db) -> None:
    cap, _ = db.make(tables=("events", "missing_table"))
    cases = {
        "SELECT * FROM missing_table": ("invalid-query", "42P01"),
        "SELECT nope FROM events": ("invalid-query", "42703"),
        "SELECT id FROM events WHERE $1 IS NULL": ("invalid-query", "42P18"),
        "SELECT 1 / (id - id) FROM events": ("query-failed", "22012"),
    }
    for sql, (case, sqlstate) in cases.items():
        params = ["x"] if "$1" in sql else []
        error = err(cap.query(sql, params))
        assert (error.case, sqlstate in error.value) == (case, True), (sql, error)


def test_connection_failures(db: Db) -> None:
    port = free_port()
    cap, _ = db.make(url=f"postgresql://nobody:pw@127.0.0.1:{port}/postgres")
    start = time.monotonic()
    error = err(cap.query("SELECT * FROM events", []))
    assert time.monotonic() - start < 2.5
    assert error.case == "connection-failed"
    assert "connection_string" in error.value
    endpoint = db.schema.role_endpoint(db.role, "wrong-password-xyz")
    cap, _ = db.make(url=endpoint.url)
    error = err(cap.begin_transaction())
    assert error.case == "connection-failed"
    assert "password authentication failed" in error.value
    assert "wrong-password-xyz" not in error.value


# ---------------------------------------------------------------------- the probe corpus


@pytest.fixture
def probe_db(pg: svc.PostgresService) -> Iterator[Db]:
    yield from make_db(pg, ("SELECT", "INSERT"))  # the role holds exactly the probes' grant


@pytest.mark.parametrize("probe", probes(), ids=lambda p: p["id"])
def test_sql_probe_against_the_live_server(probe_db: Db, probe: dict[str, Any]) -> None:
    grant, data, expect = probe["grant"], probe["input"], probe["expect"]
    cap, recording = probe_db.make(grant["allowed_tables"], grant["allowed_operations"])
    before = probe_db.snapshot()
    if data["function"] == "is-query-allowed":
        assert cap.is_query_allowed(data["sql"]) is bool(expect.get("allowed"))
        assert recording.sent == []
        return
    out = getattr(cap, data["function"])(data["sql"], list(data["params"]))
    if "error" in expect:
        assert err(out).case == expect["error"], out
        assert recording.sent == []
        assert probe_db.snapshot() == before
        assert [d.source for d in cap.denials] == ["rules"]
        return
    assert recording.sent == [data["sql"]]
    if probe["id"] == "SQL-PROBE-060":
        # FOR UPDATE passes the rules, but `query` runs READ ONLY and the role may not UPDATE:
        # the server refuses it (the second fence), and nothing changes.
        assert err(out).case == "permission-denied"
        assert probe_db.snapshot() == before
        return
    assert isinstance(ok(out), QueryResult)


def test_pooled_connections_keep_no_session_state(db: Db) -> None:
    cap, recording = db.make(query_timeout=0.5)
    assert ok(cap.query("SELECT count(*) FROM events", [])).rows == [["2"]]
    ok(cap.execute("INSERT INTO events (id) VALUES (50)", []))
    [conn] = recording.inner._idle  # the one pooled connection, back to idle
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)  # SET LOCAL ended
    assert conn.execute("SHOW transaction_read_only").fetchone() == ("off",)
    assert conn.execute("SELECT current_user").fetchone() == (db.role,)


# ---------------------------------------------------------------------- through a real guest


def test_through_a_guest_component(db: Db) -> None:
    """capability-proxy forwards each export to the import: guest ABI -> host -> PostgreSQL."""
    from wasmtime import Engine, Store
    from wasmtime.component import Component, Linker

    from reference_host import interfaces
    from reference_host.abi import schema
    from reference_host.abi._wasmtime import store_context
    from reference_host.abi.call import GuestFunc
    from reference_host.capabilities.base import link_interface
    from tests.guests.build import build_guest

    cap, recording = db.make()
    engine = Engine()
    linker = Linker(engine)
    with linker.root() as root:
        for name in interfaces.CAPABILITIES:
            short = interfaces.short(name)
            with root.add_instance(name) as instance:
                if short == "database":
                    cap.link(instance, context(10.0))
                else:  # never called here
                    link_interface(instance, name, dict.fromkeys(schema.INTERFACES[short], print))
    store = Store(engine)
    guest = linker.instantiate(store, Component.from_file(engine, build_guest("capability-proxy")))

    def call(function: str, *args: Any) -> Any:
        index = guest.get_export_index(store, f"call-database-{function}")
        assert index is not None, function
        export = guest.get_func(store, index)
        assert export is not None, function
        func = GuestFunc(export, schema.INTERFACES["database"][function])
        return func(store_context(store), *args)

    tid = ok(call("begin-transaction"))
    assert ok(call("execute", "INSERT INTO events (id, kind) VALUES ($1, $2)", ["7", "g"])) == (
        QueryResult([], [], 1)
    )
    assert call("commit-transaction", tid) == Ok(None)
    out = ok(
        call("query", "SELECT id, kind FROM events WHERE id IN ($1, $2) ORDER BY id", ["2", "7"])
    )
    assert out == QueryResult([["2", ""], ["7", "g"]], ["id", "kind"], 2)
    assert err(call("query", "SELECT * FROM secrets", [])).case == "permission-denied"
    assert err(call("execute", "INSERT INTO events (id) VALUES (7)", [])).case == (
        "constraint-violation"
    )
    assert err(call("rollback-transaction", tid)).case == "query-failed"
    assert call("is-query-allowed", "SELECT * FROM events") is True
    assert call("is-query-allowed", "SELECT * FROM secrets -- events") is False
    assert recording.sent == [
        "BEGIN",
        "SELECT id, kind FROM events WHERE id IN ($1, $2) ORDER BY id",
        "INSERT INTO events (id) VALUES (7)",
    ]
    assert db.rows("SELECT kind FROM events WHERE id = 7") == [("g",)]
