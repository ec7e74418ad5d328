"""``obsrvr:flowctl/database@1.0.0``: SQL decided by a parser, run with server-bound parameters.

:class:`DatabaseCapability` serves the interface, built from its grant
:class:`~reference_host.grants.DatabaseGrant` (``capabilities.database``).  The design document
allowlisted with ``strings.Contains``; here :meth:`DatabaseCapability.decide` asks
:class:`~reference_host.rules.sql.SqlRules` (pglast), and ``query``, ``execute`` and
``is-query-allowed`` all go through that one method, so they agree by construction:
``is-query-allowed(sql)`` is ``decide(sql, f).allowed`` for the function ``f`` that runs the
statement's kind (``query`` for SELECT, else ``execute``), parameters not counted; it is true
exactly when ``query`` or ``execute`` would run the SQL given one parameter per ``$n``.

``query`` and ``execute`` apply, in order, and the first refusal answers:

1. **Rules** (:meth:`decide`): one statement, of the kind the function runs, operations, tables,
   functions and parameters within the policy; plus no NUL character in the SQL or a parameter
   (libpq would cut the text there, and pglast does).  A refusal is ``invalid-query`` or
   ``permission-denied`` (:func:`~reference_host.rules.expected_error_case`), is recorded in
   :attr:`DatabaseCapability.denials`, and never reaches the server.
2. **Time**: the statement may take ``min(query_timeout, context.remaining())`` seconds (the
   budget left in the current guest call); less than 1 ms left is ``timeout`` without contacting
   the server.  Unlinked (no context), ``query_timeout`` alone bounds it.
3. **Backend** (:mod:`reference_host.backends.postgres`): parameters bound by the server, values as
   PostgreSQL text with NULL as ``""``, ``statement_timeout`` from step 2.  ``query`` outside a
   transaction runs in a ``READ ONLY`` transaction; inside one it is read-only because the rules
   admit no write in ``query`` (no data-modifying ``WITH``, only side-effect-free functions);
   so ``SELECT ... FOR UPDATE`` runs only inside a transaction.
   Server refusals of privilege (the connection's role is the second fence) are recorded in
   :attr:`denials` too, with ``source="server"``.

**Transactions.**  ``begin-transaction`` opens a transaction on a connection of its own and
returns a fresh UUID4 string; at most ``max_transactions`` are open at once (more is
``query-failed``).  WIT ``query``/``execute`` take no transaction id: while transactions are open,
statements run in the most recently begun one that is still open.  ``commit-transaction`` and
``rollback-transaction`` end the transaction with that id whatever happens (an unknown or ended id
is ``query-failed``).  A statement that fails inside a transaction aborts it, as in PostgreSQL:
later statements fail with ``query-failed`` and ``commit-transaction`` rolls back and reports
``query-failed``.  A commit with no time left is a rollback plus ``timeout``.

**Lifetime.**  The host calls :meth:`DatabaseCapability.reset` whenever the guest instance
behind it traps, is recycled or ends (open transactions are rolled back; the capability stays
usable) and :meth:`DatabaseCapability.close` when the capability is dropped (reset, then every
connection closed; later calls are ``connection-failed``).  Nothing raises into the guest:
backend errors arrive mapped; any other exception is logged and returned as ``unknown-error``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from wasmtime.component import LinkerInstance

from reference_host import interfaces
from reference_host.backends.postgres import (
    BackendError,
    DatabaseBackend,
    DatabaseTransaction,
    PostgresBackend,
)
from reference_host.capabilities.base import Boundary, HostContext, link_interface, map_exceptions
from reference_host.errors import PolicyError
from reference_host.grants import DatabaseGrant
from reference_host.rules import expected_error_case
from reference_host.rules.sql import SqlCode, SqlDecision, SqlRules
from reference_host.types import DbError, Err, Ok, QueryResult

__all__ = ["DatabaseCapability", "SqlDenial", "to_db_error"]

T = TypeVar("T")
DbResult: TypeAlias = Ok[T] | Err[DbError]
MIN_STATEMENT_S = 0.001
_log = logging.getLogger("flowctl.host.database")


def to_db_error(exc: Exception, function: str, component_id: str = "") -> DbError:
    """The ``db-error`` for an exception raised by a backend call of ``function``.

    Backends raise :class:`~reference_host.backends.postgres.BackendError` already mapped (see
    :mod:`reference_host.backends.postgres`); anything else is a host bug: logged with its
    traceback and answered ``unknown-error``.
    """
    if isinstance(exc, BackendError):
        return exc.error
    _log.error("%s: database %s failed in the host", component_id, function, exc_info=exc)
    return DbError(
        "unknown-error",
        f"the host failed in {function}: {type(exc).__name__}: {exc}; this is a "
        "bug in the reference host, please report it",
    )


@dataclass(frozen=True)
class SqlDenial:
    """One refused ``query``/``execute`` attempt, for the conformance report."""

    function: str
    sql: str
    params: tuple[str, ...]
    case: str
    reason: str
    code: str  # the SqlCode value for source "rules"; "" for source "server"
    source: str  # "rules": never sent to the server; "server": the server refused it
    time: float


@dataclass(eq=False)
class DatabaseCapability:
    """Serves the database interface for one component instance (see the module docstring)."""

    rules: SqlRules
    backend: DatabaseBackend
    component_id: str = ""
    query_timeout: float = 30.0
    max_transactions: int = 4
    max_denials: int = 10_000
    context: HostContext | None = None
    denials: list[SqlDenial] = field(default_factory=list)
    denials_dropped: int = 0
    #: ``is-query-allowed`` questions answered no (a refusal the guest saw without a call).
    refused_questions: int = 0
    interface: str = interfaces.DATABASE
    _transactions: dict[str, DatabaseTransaction] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _closed: bool = False

    @classmethod
    def from_policy(
        cls,
        db_policy: DatabaseGrant,
        *,
        component_id: str,
        backend: DatabaseBackend | None = None,
        max_transactions: int = 4,
    ) -> DatabaseCapability:
        """Build from ``capabilities.database``; the default backend connects lazily."""
        if not db_policy.enabled:
            raise PolicyError(
                "capabilities.database is not enabled, so obsrvr:flowctl/database@1.0.0 cannot "
                "be served; set capabilities.database.enabled: true"
            )
        if backend is None:
            if db_policy.connection_string is None:
                raise PolicyError(
                    "capabilities.database.connection_string is missing; set it to a "
                    "postgresql:// URL (ideally of a role limited to allowed_tables)"
                )
            backend = PostgresBackend(
                db_policy.connection_string.get_secret_value(),
                application_name=f"flowctl:{component_id}",
            )
        rules = SqlRules(db_policy.allowed_tables, db_policy.allowed_operations)
        return cls(
            rules,
            backend,
            component_id,
            query_timeout=db_policy.query_timeout,
            max_transactions=max_transactions,
        )

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define the six functions; ``context`` bounds every statement by the call budget."""
        self.context = context
        link_interface(
            linker,
            self.interface,
            {
                "query": self.query,
                "execute": self.execute,
                "begin-transaction": self.begin_transaction,
                "commit-transaction": self.commit_transaction,
                "rollback-transaction": self.rollback_transaction,
                "is-query-allowed": self.is_query_allowed,
            },
            context=context,
        )

    # ------------------------------------------------------------------ the one check

    def decide(
        self, sql: str, function: str | None = None, params: Sequence[str] | None = None
    ) -> SqlDecision:
        """The decision every function uses: NUL characters refused, then the SQL rules."""
        if "\0" in sql:
            return SqlDecision(False, "the SQL contains a NUL character", SqlCode.PARSE_ERROR)
        for n, value in enumerate(params or (), 1):
            if "\0" in value:
                return SqlDecision(
                    False,
                    f"parameter ${n} contains a NUL character, which PostgreSQL text cannot "
                    "hold; remove it or encode the value (e.g. base64)",
                    SqlCode.PARAM_MISMATCH,
                )
        return self.rules.check(sql, function, params)

    def is_query_allowed(self, sql: str) -> bool:
        """``is-query-allowed``: true when the function for this kind of statement would run it.

        That is ``query`` for SELECT, ``execute`` for INSERT/UPDATE/DELETE; parameters are not
        counted.  (A SELECT with a data-modifying ``WITH`` passes ``decide(sql)`` but neither
        function.)
        """
        decision = self.decide(sql)
        if decision.allowed:
            decision = self.decide(sql, "query" if decision.kind == "SELECT" else "execute")
        self.refused_questions += not decision.allowed
        return decision.allowed

    # ------------------------------------------------------------------ statements

    def query(self, sql: str, params: list[str]) -> DbResult[QueryResult]:
        """``query``: one read-only SELECT."""
        return self._statement("query", sql, params)

    def execute(self, sql: str, params: list[str]) -> DbResult[QueryResult]:
        """``execute``: one INSERT, UPDATE or DELETE."""
        return self._statement("execute", sql, params)

    def _statement(self, function: str, sql: str, params: list[str]) -> DbResult[QueryResult]:
        decision = self.decide(sql, function, params)
        if not decision.allowed:
            case = expected_error_case(decision) or "permission-denied"
            self._deny(function, sql, params, case, decision.reason, decision.code, "rules")
            return Err(DbError(case, self._explain(case, decision.reason)))
        deadline = self._deadline()
        if deadline is None:
            return Err(DbError("timeout"))
        with self._lock:
            if self._closed:
                return self._closed_error()
            tx = next(reversed(self._transactions.values()), None)
        with self._boundary(function) as boundary:
            if tx is not None:
                return Ok(tx.run(sql, params, deadline=deadline))
            read_only = function == "query"
            return Ok(self.backend.run(sql, params, read_only=read_only, deadline=deadline))
        failed = boundary.result()
        error = failed.error
        if error.case == "permission-denied":  # the server refused it: a denial too
            self._deny(function, sql, params, error.case, str(error.value), "", "server")
        return failed

    # ------------------------------------------------------------------ transactions

    def begin_transaction(self) -> DbResult[str]:
        """``begin-transaction``: a new transaction id (UUID4 string)."""
        with self._lock:
            if self._closed:
                return self._closed_error()
            if len(self._transactions) >= self.max_transactions:
                return Err(
                    DbError(
                        "query-failed",
                        f"{len(self._transactions)} transactions are already open (the host "
                        f"allows {self.max_transactions}); commit or roll back one first",
                    )
                )
            deadline = self._deadline()
            if deadline is None:
                return Err(DbError("timeout"))
            with self._boundary("begin-transaction") as boundary:
                tx = self.backend.begin(deadline=deadline)
                tid = str(uuid.uuid4())
                self._transactions[tid] = tx
                return Ok(tid)
            return boundary.result()

    def commit_transaction(self, transaction_id: str) -> DbResult[None]:
        """``commit-transaction``: commit and end the transaction (it ends on failure too)."""
        tx = self._take(transaction_id)
        if isinstance(tx, Err):
            return tx
        deadline = self._deadline()
        if deadline is None:
            with self._boundary("rollback-transaction"):
                tx.rollback()
            return Err(DbError("timeout"))
        with self._boundary("commit-transaction") as boundary:
            tx.commit(deadline=deadline)
            return Ok(None)
        return boundary.result()

    def rollback_transaction(self, transaction_id: str) -> DbResult[None]:
        """``rollback-transaction``: roll back and end the transaction."""
        tx = self._take(transaction_id)
        if isinstance(tx, Err):
            return tx
        with self._boundary("rollback-transaction") as boundary:
            tx.rollback()
            return Ok(None)
        return boundary.result()

    @property
    def open_transactions(self) -> tuple[str, ...]:
        """Ids of the open transactions, oldest first (the last one is current)."""
        with self._lock:
            return tuple(self._transactions)

    def _take(self, transaction_id: str) -> DatabaseTransaction | Err[DbError]:
        with self._lock:
            if self._closed:
                return self._closed_error()
            tx = self._transactions.pop(transaction_id, None)
        if tx is None:
            return Err(
                DbError(
                    "query-failed",
                    f"no open transaction {transaction_id!r}: it was committed or rolled back "
                    "already, or never begun; use the id begin-transaction returned",
                )
            )
        return tx

    # ------------------------------------------------------------------ lifetime

    def reset(self) -> int:
        """Roll back every open transaction; return how many there were.

        The host calls this whenever the instance behind the capability traps, is recycled or
        ends.  The capability stays usable (a recycled instance keeps the same capability).
        """
        with self._lock:
            open_now = list(self._transactions.items())
            self._transactions.clear()
        for tid, tx in reversed(open_now):
            with self._boundary("rollback-transaction") as boundary:
                tx.rollback()
            if boundary.error is not None:
                failed = boundary.result()
                _log.warning("%s: rolling back transaction %s: %s", self.component_id, tid, failed)
        return len(open_now)

    def close(self) -> None:
        """Reset, then close every connection (idempotent); later calls: connection-failed."""
        if self._closed:
            return
        self.reset()
        with self._lock:
            self._closed = True
        try:
            self.backend.close()
        except Exception:
            _log.exception("%s: closing the database backend failed", self.component_id)

    # ------------------------------------------------------------------ helpers

    def _deadline(self) -> float | None:
        budget = self.query_timeout
        if self.context is not None:
            budget = min(budget, self.context.remaining())
        if budget < MIN_STATEMENT_S:
            return None
        return time.monotonic() + budget

    def _boundary(self, function: str) -> AbstractContextManager[Boundary[DbError]]:
        """The error boundary for one backend call: exceptions become its ``db-error``."""
        return map_exceptions(lambda exc: to_db_error(exc, function, self.component_id))

    def _explain(self, case: str, reason: str) -> str:
        if case != "permission-denied":
            return reason
        return (
            f"{reason}; the policy (capabilities.database) allows {self.rules!r}, "
            "grant more there if the component needs it"
        )

    @staticmethod
    def _closed_error() -> Err[DbError]:
        return Err(DbError("connection-failed", "the database capability has been closed"))

    def _deny(
        self,
        function: str,
        sql: str,
        params: Sequence[str],
        case: str,
        reason: str,
        code: str,
        source: str,
    ) -> None:
        with self._lock:
            if len(self.denials) >= self.max_denials:
                self.denials_dropped += 1
                return
            self.denials.append(
                SqlDenial(function, sql, tuple(params), case, reason, code, source, time.time())
            )
        _log.info("%s: %s refused (%s): %s", self.component_id, function, case, reason)
