"""database capability without a server: rules wiring, budget, error mapping, transactions.

The backend is an in-memory twin of the `DatabaseBackend` protocol that records every call; the
real PostgreSQL backend is exercised in tests/integration/test_cap_database.py.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import errors as pge
from pydantic import SecretStr

from reference_host import interfaces
from reference_host.backends.postgres import (
    BackendError,
    PostgresBackend,
    _set_timeout,
    error_for_exception,
    error_for_sqlstate,
    translate_errors,
)
from reference_host.capabilities.base import HostContext
from reference_host.capabilities.database import DatabaseCapability
from reference_host.errors import PolicyError
from reference_host.grants import DatabaseGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.rules.sql import SqlRules
from reference_host.types import DbError, Err, Ok, QueryResult

PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "probes" / "sql.yaml"
RESULT = QueryResult([["1", ""]], ["id", "kind"], 1)


@functools.cache
def probes() -> list[dict[str, Any]]:
    data = yaml.safe_load(PROBES.read_text(encoding="utf-8"))
    return list(data["probes"])


class FakeTx:
    def __init__(self, backend: FakeBackend, n: int) -> None:
        self.backend, self.n, self.state = backend, n, "open"

    def run(self, sql, params, *, deadline):
        assert self.state == "open"
        self.backend.calls.append(("tx-run", self.n, sql, tuple(params), deadline))
        return self.backend.answer()

    def commit(self, *, deadline):
        assert self.state == "open"
        self.backend.calls.append(("commit", self.n, deadline))
        self.state = "committed"
        self.backend.answer()

    def rollback(self):
        assert self.state == "open"
        self.backend.calls.append(("rollback", self.n))
        self.state = "rolled back"
        if self.backend.fail_rollback:
            raise BackendError(DbError("connection-failed", "gone"))


class FakeBackend:
    """In-memory twin of DatabaseBackend: records calls, answers RESULT or raises `fail`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.txs: list[FakeTx] = []
        self.fail: BaseException | None = None
        self.fail_rollback = False
        self.closed = False

    def answer(self) -> QueryResult:
        if self.fail is not None:
            raise self.fail
        return RESULT

    def run(self, sql, params, *, read_only, deadline):
        self.calls.append(("run", sql, tuple(params), read_only, deadline))
        return self.answer()

    def begin(self, *, deadline):
        self.calls.append(("begin", deadline))
        if self.fail is not None:
            raise self.fail
        self.txs.append(FakeTx(self, len(self.txs)))
        return self.txs[-1]

    def close(self):
        self.closed = True


def context(seconds: float) -> HostContext:
    budget = CallBudget(ResourceLimits())
    budget.deadline = time.monotonic() + seconds
    return HostContext("c1", budget)


def make(
    tables: Iterable[str] = ("events", "token_transfers"),
    operations: Iterable[str] = ("SELECT", "INSERT"),
    *,
    seconds: float | None = 10.0,
    query_timeout: float = 30.0,
    **kwargs: Any,
) -> tuple[DatabaseCapability, FakeBackend]:
    backend = FakeBackend()
    cap = DatabaseCapability(
        SqlRules(tables, operations), backend, "c1", query_timeout=query_timeout, **kwargs
    )
    if seconds is not None:
        cap.context = context(seconds)
    return cap, backend


def ok(out: Any) -> Any:
    assert isinstance(out, Ok), out
    return out.value


def err(out: Any) -> DbError:
    assert isinstance(out, Err), out
    assert isinstance(out.error, DbError)
    return out.error


# ---------------------------------------------------------------------- rules wiring


@pytest.mark.parametrize(
    "probe",
    [p for p in probes() if p["input"]["function"] != "is-query-allowed"],
    ids=lambda p: p["id"],
)
def test_probe_refusals_never_reach_the_backend(probe: dict[str, Any]) -> None:
    grant, data = probe["grant"], probe["input"]
    cap, backend = make(grant["allowed_tables"], grant["allowed_operations"])
    out = getattr(cap, data["function"])(data["sql"], list(data["params"]))
    if probe["expect"].get("allowed"):
        assert ok(out) == RESULT
        assert backend.calls[0][:3] == ("run", data["sql"], tuple(data["params"]))
        assert backend.calls[0][3] is (data["function"] == "query")  # read_only
        assert cap.denials == []
        return
    error = err(out)
    assert error.case == probe["expect"]["error"], error
    assert backend.calls == []
    denial = cap.denials[-1]
    assert (denial.function, denial.sql, denial.case, denial.source) == (
        data["function"],
        data["sql"],
        error.case,
        "rules",
    )
    assert denial.reason in error.value


EXTRA_SQL = [
    "SELECT id FROM events WHERE id = $1 AND kind = $2",
    "INSERT INTO events (id) VALUES ($1)",
    "DELETE FROM events WHERE id = 1",
    "UPDATE events SET kind = $1",
    "SELECT 1",
    "WITH x AS (INSERT INTO events (id) VALUES (1) RETURNING id) SELECT * FROM x",
    "",
]


@pytest.mark.parametrize("sql", [p["input"]["sql"] for p in probes()] + EXTRA_SQL)
def test_is_query_allowed_agrees_with_query_and_execute(sql: str) -> None:
    """is-query-allowed(sql) is true exactly when query or execute runs sql (with its params)."""
    cap, backend = make()
    params = ["1"] * cap.decide(sql).param_count
    runnable = [f for f in ("query", "execute") if isinstance(getattr(cap, f)(sql, params), Ok)]
    assert cap.is_query_allowed(sql) is bool(runnable)
    assert len(backend.calls) == len(runnable) <= 1


def test_a_select_with_a_writing_with_clause_is_not_allowed_anywhere() -> None:
    sql = "WITH x AS (INSERT INTO events (id) VALUES (1) RETURNING id) SELECT * FROM x"
    cap, backend = make()
    assert cap.rules.is_allowed(sql)  # the bare rules (no function) would say yes ...
    assert not cap.is_query_allowed(sql)  # ... but neither query nor execute runs it
    assert err(cap.query(sql, [])).case == "invalid-query"
    assert err(cap.execute(sql, [])).case == "invalid-query"
    assert backend.calls == []


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT * FROM events\0; DROP TABLE events", []),
        ("SELECT * FROM events WHERE kind = $1", ["a\0b"]),
    ],
)
def test_nul_characters_are_refused_before_the_rules_and_the_server(
    sql: str, params: list[str]
) -> None:
    cap, backend = make()
    assert err(cap.query(sql, params)).case == "invalid-query"
    assert "NUL" in cap.denials[-1].reason
    assert backend.calls == []
    assert cap.is_query_allowed(sql) is ("\0" not in sql)


def test_permission_denied_names_the_policy_remedy() -> None:
    cap, _ = make()
    error = err(cap.query("SELECT * FROM secrets", []))
    assert error.case == "permission-denied"
    assert "table secrets is not in allowed_tables" in error.value
    assert "capabilities.database" in error.value and "events" in error.value


# ---------------------------------------------------------------------- time budget


@pytest.mark.parametrize(
    ("seconds", "query_timeout", "expected"),
    [(0.5, 30.0, 0.5), (100.0, 2.0, 2.0), (None, 3.0, 3.0)],
)
def test_statement_time_is_the_smaller_of_query_timeout_and_call_budget(
    seconds: float | None, query_timeout: float, expected: float
) -> None:
    cap, backend = make(seconds=seconds, query_timeout=query_timeout)
    before = time.monotonic()
    ok(cap.query("SELECT * FROM events", []))
    deadline = backend.calls[0][4]
    assert before + expected - 0.05 <= deadline <= time.monotonic() + expected


@pytest.mark.parametrize("function", ["query", "execute", "begin"])
def test_spent_budget_is_timeout_without_touching_the_backend(function: str) -> None:
    cap, backend = make(seconds=0.0)
    if function == "begin":
        assert err(cap.begin_transaction()).case == "timeout"
    else:
        sql = (
            "SELECT * FROM events" if function == "query" else "INSERT INTO events (id) VALUES (1)"
        )
        assert err(getattr(cap, function)(sql, [])) == DbError("timeout")
    assert backend.calls == []
    assert cap.denials == []


def test_set_timeout_uses_the_milliseconds_left() -> None:
    sql = _set_timeout(time.monotonic() + 0.25)
    assert sql.startswith("SET LOCAL statement_timeout = ")
    assert 200 <= int(sql.rsplit(" ", 1)[1]) <= 250
    with pytest.raises(BackendError) as info:
        _set_timeout(time.monotonic() - 1)
    assert info.value.error == DbError("timeout")


# ---------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("exc", "case"),
    [
        (pge.UniqueViolation("duplicate key"), "constraint-violation"),
        (pge.ForeignKeyViolation("fk"), "constraint-violation"),
        (pge.CheckViolation("check"), "constraint-violation"),
        (pge.NotNullViolation("not null"), "constraint-violation"),
        (pge.ExclusionViolation("excl"), "constraint-violation"),
        (pge.QueryCanceled("canceling statement due to statement timeout"), "timeout"),
        (pge.LockNotAvailable("lock timeout"), "timeout"),
        (pge.InsufficientPrivilege("permission denied for table secrets"), "permission-denied"),
        (pge.ReadOnlySqlTransaction("read-only transaction"), "permission-denied"),
        (pge.SyntaxError("syntax error at or near"), "invalid-query"),
        (pge.UndefinedTable("relation does not exist"), "invalid-query"),
        (pge.UndefinedColumn("column does not exist"), "invalid-query"),
        (pge.IndeterminateDatatype("could not determine data type"), "invalid-query"),
        (pge.InvalidTextRepresentation("invalid input syntax"), "query-failed"),
        (pge.DivisionByZero("division by zero"), "query-failed"),
        (pge.InFailedSqlTransaction("current transaction is aborted"), "query-failed"),
        (pge.SerializationFailure("could not serialize"), "query-failed"),
        (pge.AdminShutdown("terminating connection"), "connection-failed"),
        (pge.TooManyConnections("too many"), "connection-failed"),
        (pge.InvalidPassword("password authentication failed"), "connection-failed"),
        (
            psycopg.OperationalError("server closed the connection unexpectedly"),
            "connection-failed",
        ),
        (psycopg.InterfaceError("the connection is closed"), "connection-failed"),
        (
            psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
            "query-failed",
        ),
        (pge.InternalError_("internal"), "unknown-error"),
        (psycopg.ProgrammingError("misuse"), "unknown-error"),
        (ValueError("not psycopg"), "unknown-error"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_psycopg_errors_map_to_db_error_cases(exc: BaseException, case: str) -> None:
    error = error_for_exception(exc)
    assert error.case == case
    assert (error.value is None) is (case == "timeout")
    with pytest.raises(BackendError) as info, translate_errors():
        raise exc
    assert info.value.error == error
    assert info.value.__cause__ is exc


def test_everything_is_connection_failed_while_connecting() -> None:
    for exc in (pge.InsufficientPrivilege("no connect"), psycopg.OperationalError("refused")):
        error = error_for_exception(exc, connecting=True)
        assert error.case == "connection-failed"
        assert "capabilities.database.connection_string" in error.value


def test_server_messages_carry_detail_constraint_and_remedy() -> None:
    dup = error_for_sqlstate(
        "23505", "duplicate key", detail="Key (id)=(1) already exists.", constraint="events_pkey"
    )
    assert dup == DbError(
        "constraint-violation",
        "duplicate key (Key (id)=(1) already exists.) [constraint events_pkey]",
    )
    assert "rollback-transaction" in error_for_sqlstate("25P02", "aborted").value
    assert "use execute" in error_for_sqlstate("25006", "read-only").value
    assert "[SQLSTATE 42P01]" in error_for_sqlstate("42P01", "no such table").value


def test_backend_errors_are_returned_never_raised() -> None:
    cap, backend = make()
    backend.fail = BackendError(DbError("constraint-violation", "dup"))
    assert err(cap.execute("INSERT INTO events (id) VALUES (1)", [])) == DbError(
        "constraint-violation", "dup"
    )
    backend.fail = RuntimeError("host bug")
    error = err(cap.query("SELECT * FROM events", []))
    assert error.case == "unknown-error"
    assert "RuntimeError: host bug" in error.value
    assert err(cap.begin_transaction()).case == "unknown-error"
    assert cap.denials == []


def test_server_permission_denied_is_recorded_as_a_denial() -> None:
    cap, backend = make()
    backend.fail = BackendError(DbError("permission-denied", "permission denied for table events"))
    assert err(cap.query("SELECT * FROM events", [])).case == "permission-denied"
    denial = cap.denials[-1]
    assert (denial.source, denial.case, denial.sql) == (
        "server",
        "permission-denied",
        "SELECT * FROM events",
    )


def test_denials_are_capped() -> None:
    cap, _ = make(max_denials=2)
    for _ in range(5):
        cap.query("SELECT * FROM secrets", [])
    assert (len(cap.denials), cap.denials_dropped) == (2, 3)


# ---------------------------------------------------------------------- transactions


def test_statements_run_in_the_most_recent_open_transaction() -> None:
    cap, backend = make()
    first = ok(cap.begin_transaction())
    assert uuid.UUID(first).version == 4
    ok(cap.execute("INSERT INTO events (id) VALUES (1)", []))
    second = ok(cap.begin_transaction())
    assert second != first
    ok(cap.query("SELECT * FROM events", []))
    assert cap.open_transactions == (first, second)
    ok(cap.commit_transaction(second))
    ok(cap.query("SELECT * FROM events", []))
    ok(cap.rollback_transaction(first))
    ok(cap.query("SELECT * FROM events", []))
    kinds = [(c[0], c[1]) if c[0] != "run" else ("run", c[3]) for c in backend.calls]
    assert kinds == [
        ("begin", backend.calls[0][1]),
        ("tx-run", 0),
        ("begin", backend.calls[2][1]),
        ("tx-run", 1),
        ("commit", 1),
        ("tx-run", 0),
        ("rollback", 0),
        ("run", True),
    ]
    assert [tx.state for tx in backend.txs] == ["rolled back", "committed"]
    assert not cap.open_transactions


def test_unknown_and_ended_transaction_ids() -> None:
    cap, backend = make()
    tid = ok(cap.begin_transaction())
    ok(cap.commit_transaction(tid))
    for call in (cap.commit_transaction, cap.rollback_transaction):
        for bad in (tid, "nope", ""):
            error = err(call(bad))
            assert error.case == "query-failed"
            assert "no open transaction" in error.value and "begin-transaction" in error.value
    assert [c[0] for c in backend.calls] == ["begin", "commit"]


def test_open_transactions_are_capped() -> None:
    cap, backend = make(max_transactions=2)
    ids = [ok(cap.begin_transaction()) for _ in range(2)]
    error = err(cap.begin_transaction())
    assert error.case == "query-failed" and "commit or roll back one first" in error.value
    assert len(backend.txs) == 2
    ok(cap.rollback_transaction(ids[0]))
    ok(cap.begin_transaction())


def test_a_failed_commit_still_ends_the_transaction() -> None:
    cap, backend = make()
    tid = ok(cap.begin_transaction())
    backend.fail = BackendError(DbError("constraint-violation", "deferred fk"))
    assert err(cap.commit_transaction(tid)).case == "constraint-violation"
    assert cap.open_transactions == ()


def test_commit_without_time_left_rolls_back() -> None:
    cap, backend = make()
    tid = ok(cap.begin_transaction())
    cap.context = context(0.0)
    assert err(cap.commit_transaction(tid)) == DbError("timeout")
    assert backend.txs[0].state == "rolled back"
    assert cap.open_transactions == ()


def test_reset_rolls_back_every_open_transaction_and_stays_usable() -> None:
    cap, backend = make()
    for _ in range(3):
        ok(cap.begin_transaction())
    backend.fail_rollback = True  # a broken connection must not stop the others
    assert cap.reset() == 3
    assert [tx.state for tx in backend.txs] == ["rolled back"] * 3
    assert cap.open_transactions == ()
    assert cap.reset() == 0
    ok(cap.query("SELECT * FROM events", []))
    assert backend.calls[-1][0] == "run"


def test_close_rolls_back_closes_and_refuses_later_calls() -> None:
    cap, backend = make()
    tid = ok(cap.begin_transaction())
    cap.close()
    cap.close()
    assert backend.txs[0].state == "rolled back" and backend.closed
    calls = len(backend.calls)
    assert err(cap.query("SELECT * FROM events", [])).case == "connection-failed"
    assert err(cap.begin_transaction()).case == "connection-failed"
    assert err(cap.commit_transaction(tid)).case == "connection-failed"
    assert len(backend.calls) == calls
    assert cap.is_query_allowed("SELECT * FROM events")


# ---------------------------------------------------------------------- construction and linking


def policy(**kwargs: Any) -> DatabaseGrant:
    values: dict[str, Any] = {
        "enabled": True,
        "connection_string": SecretStr("postgresql://app:s3cret@127.0.0.1:1/db"),
        "allowed_tables": ("events",),
        "allowed_operations": ("SELECT", "INSERT"),
        "query_timeout": 1.5,
    }
    return DatabaseGrant(**(values | kwargs))


def test_from_policy_builds_a_lazy_postgres_backend() -> None:
    cap = DatabaseCapability.from_policy(policy(), component_id="ttp")
    assert isinstance(cap.backend, PostgresBackend)
    assert cap.backend.connections == 0  # nothing connects before the first statement
    assert cap.backend.application_name == "flowctl:ttp"
    assert "s3cret" not in repr(cap) and "s3cret" not in repr(cap.backend)
    assert cap.query_timeout == 1.5
    assert cap.rules.operations == {"SELECT", "INSERT"}
    assert cap.interface == interfaces.DATABASE == "obsrvr:flowctl/database@1.0.0"
    assert cap.is_query_allowed("SELECT * FROM events")
    assert not cap.is_query_allowed("SELECT * FROM secrets -- events")


def test_from_policy_refuses_what_it_cannot_serve() -> None:
    with pytest.raises(PolicyError, match="enabled: true"):
        DatabaseCapability.from_policy(policy(enabled=False), component_id="c")
    with pytest.raises(PolicyError, match="connection_string is missing"):
        DatabaseCapability.from_policy(policy(connection_string=None), component_id="c")
    backend = FakeBackend()
    cap = DatabaseCapability.from_policy(
        policy(connection_string=None), component_id="c", backend=backend
    )
    assert cap.backend is backend


def test_closed_postgres_backend_refuses_without_connecting() -> None:
    backend = PostgresBackend("postgresql://app:pw@127.0.0.1:1/db")
    backend.close()
    with pytest.raises(BackendError) as info:
        backend.run("SELECT 1", [], read_only=True, deadline=time.monotonic() + 5)
    assert info.value.error.case == "connection-failed"
    assert backend.connections == 0


def test_link_defines_all_six_functions_and_keeps_the_context() -> None:
    from wasmtime import Engine
    from wasmtime.component import Linker

    cap, _ = make(seconds=None)
    ctx = context(1.0)
    linker = Linker(Engine())
    with linker.root() as root, root.add_instance(interfaces.DATABASE) as instance:
        cap.link(instance, ctx)
    assert cap.context is ctx
