r"""PostgreSQL backend of the ``database`` capability: psycopg 3, server-bound parameters.

**Seam.**  The capability sees only :class:`DatabaseBackend` (``run`` one statement in a
transaction of its own, ``begin`` a :class:`DatabaseTransaction`, ``close``).  Every failure
leaves the backend as :class:`BackendError`, which carries the ``db-error`` it maps to; unit tests
use an in-memory twin of the protocols.  psycopg is imported lazily.

**Parameters are bound by the server.**  Guest SQL uses PostgreSQL's own placeholders ``$1..$n``
(the rules parse them and check their count).  The SQL text goes to the server unchanged through
libpq's ``PQexecParams`` (:meth:`psycopg.pq.PGconn.exec_params`): the extended query protocol, so
the server itself refuses a second statement, with every parameter sent apart from the SQL as a
text-format value of type OID 0 (``unknown``).  The server infers each parameter's type from its
context (``id = $1`` makes it an integer) and parses the value with that type's input function,
as it would a quoted literal; a parameter is never SQL.  A value that does not fit its type is
``query-failed`` (SQLSTATE 22P02); a parameter whose type cannot be inferred needs a cast
(``$1::text``; ``invalid-query``, 42P18).  (psycopg's ``Cursor`` would speak the simple protocol,
which runs several statements, for a call without parameters; ``ClientCursor`` interpolates.)

**Results are text.**  Rows arrive in text format and every value is PostgreSQL's own text output,
decoded as UTF-8 (``client_encoding`` is forced): ``t``/``f``, ``2024-01-02 03:04:05+00``,
``{1,2}``, ``1.50``, ``\x0102`` for bytea.  **NULL is the empty string**, as in the design
document's Go host (WIT ``list<list<string>>`` has no null); a guest that must tell NULL from ``''``
also selects ``col IS NULL``.  ``rows-affected`` is the server's count (``PQcmdTuples``): rows
returned by a SELECT, rows written by INSERT/UPDATE/DELETE.  More than ``max_rows`` rows is
``query-failed``.

**Timeouts.**  Callers pass a deadline on :func:`time.monotonic`.  Each statement (and COMMIT) runs
after ``SET LOCAL statement_timeout`` = the milliseconds left (at least 1); nothing is sent once
the deadline has passed (``timeout``).  Connecting uses ``connect_timeout`` = the seconds left,
capped at :attr:`PostgresBackend.connect_timeout`, rounded up and at least 2 (libpq's and
psycopg's floor): a connect may overrun a shorter budget by up to 2 s, after which the guest traps
at its own deadline.  A server that stops answering altogether (hung, frozen, a network that drops
packets) cannot enforce its own statement timeout, so a client-side watchdog (:func:`_watchdog`)
shuts the connection's socket down :data:`WATCHDOG_GRACE_S` after the deadline: the call answers
``timeout`` and the broken connection is dropped (the next call reconnects).  A rollback, which has
no deadline of its own, is bounded the same way by :data:`ROLLBACK_BOUND_S`.

**Transactions and connections.**  :meth:`PostgresBackend.run` wraps the statement in ``BEGIN``
(``BEGIN READ ONLY`` for ``query``: the server refuses any write, 25006) and ``COMMIT``.
:meth:`PostgresBackend.begin` gives a transaction a dedicated connection.  COMMIT of a transaction
that an earlier error aborted is reported as ``query-failed`` (PostgreSQL silently rolls back).
Connections open lazily (autocommit mode, explicit BEGIN/COMMIT, ``application_name``); up to
``max_idle`` idle ones are kept for reuse once rolled back to idle, broken ones are dropped and the
next call reconnects.  No session state leaks between uses: the rules refuse ``SET``,
``set_config``, ``PREPARE``, ``LISTEN``, temporary tables and advisory locks.

**Errors** map at one boundary (:func:`translate_errors`, :func:`error_for_sqlstate`):

==========================================================  ====================
psycopg / SQLSTATE                                          db-error
==========================================================  ====================
anything while connecting; class 08, 28; 57P01-03; 53300    connection-failed
class 23 (unique, foreign key, check, not null, ...)        constraint-violation
57014 (statement timeout, cancel), 55P03 (lock timeout)     timeout
42501 insufficient privilege, 25006 read-only transaction   permission-denied
other class 42 (syntax, undefined table/column/...)         invalid-query
class XX (internal), exceptions not from psycopg            unknown-error
everything else (22 data, 25P02 aborted, 40 retry, ...)     query-failed
==========================================================  ====================

**Why this is one long module**: the seam, the error table above and the two psycopg classes behind
the seam are one backend; split, the error mapping would live apart from the only code that raises
what it maps.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from reference_host.types import DbError, QueryResult

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "BackendError",
    "DatabaseBackend",
    "DatabaseTransaction",
    "PostgresBackend",
    "PostgresTransaction",
    "error_for_exception",
    "error_for_sqlstate",
    "translate_errors",
]

_CONNECTION_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "3D000"})
_TIMEOUT_STATES = frozenset({"57014", "55P03"})
_REMEDIES = {
    "42501": "the database role in capabilities.database.connection_string lacks this privilege; "
    "grant it to that role, or keep the statement to the tables the role may use",
    "25006": "query runs in a READ ONLY transaction; use execute to write",
    "25P02": "an earlier statement failed, which aborted the transaction; "
    "call rollback-transaction",
    "40001": "retry the transaction",
    "40P01": "retry the transaction",
}


class BackendError(Exception):
    """A backend failure, already mapped to the ``db-error`` the guest receives."""

    def __init__(self, error: DbError) -> None:
        super().__init__(str(error))
        self.error = error


class DatabaseTransaction(Protocol):
    """An open transaction on a connection of its own."""

    def run(self, sql: str, params: Sequence[str], *, deadline: float) -> QueryResult:
        """Run one statement in the transaction."""

    def commit(self, *, deadline: float) -> None:
        """Commit and end the transaction (it ends even when the commit fails)."""

    def rollback(self) -> None:
        """Roll back and end the transaction."""


class DatabaseBackend(Protocol):
    """What the ``database`` capability needs from a server."""

    def run(
        self, sql: str, params: Sequence[str], *, read_only: bool, deadline: float
    ) -> QueryResult:
        """Run one statement in a transaction of its own (``READ ONLY`` if asked)."""

    def begin(self, *, deadline: float) -> DatabaseTransaction:
        """Begin a transaction on a dedicated connection."""

    def close(self) -> None:
        """Close every connection (idempotent); open transactions end rolled back."""


def error_for_sqlstate(
    sqlstate: str, message: str, *, detail: str | None = None, constraint: str | None = None
) -> DbError:
    """Map a server error (SQLSTATE and texts) to its ``db-error`` (see the module table)."""
    cls = sqlstate[:2]
    text = message + (f" ({detail})" if detail else "")
    if sqlstate in _TIMEOUT_STATES:
        return DbError("timeout")
    if cls == "23":
        named = f" [constraint {constraint}]" if constraint else ""
        return DbError("constraint-violation", f"{text}{named}")
    if cls in ("08", "28") or sqlstate in _CONNECTION_STATES:
        return DbError("connection-failed", f"{text} [SQLSTATE {sqlstate}]")
    remedy = f"; {_REMEDIES[sqlstate]}" if sqlstate in _REMEDIES else ""
    if sqlstate in ("42501", "25006"):
        return DbError("permission-denied", f"{text}{remedy}")
    if cls == "42":
        return DbError("invalid-query", f"{text} [SQLSTATE {sqlstate}]")
    if cls == "XX":
        return DbError("unknown-error", f"{text} [SQLSTATE {sqlstate}]")
    return DbError("query-failed", f"{text} [SQLSTATE {sqlstate}]{remedy}")


def error_for_exception(exc: BaseException, *, connecting: bool = False) -> DbError:
    """Map any exception from psycopg (or elsewhere) to its ``db-error``."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return DbError("unknown-error", f"{type(exc).__name__}: {exc}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if connecting:
        return DbError(
            "connection-failed",
            f"cannot connect to the database: {first}; check "
            "capabilities.database.connection_string and that the server is up",
        )
    if exc.sqlstate is None:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return DbError("connection-failed", f"the database connection failed: {first}")
        if isinstance(exc, psycopg.DataError):
            return DbError("query-failed", first)
        return DbError("unknown-error", f"{type(exc).__name__}: {first}")
    diag = exc.diag
    return error_for_sqlstate(
        exc.sqlstate,
        diag.message_primary or first,
        detail=diag.message_detail,
        constraint=diag.constraint_name,
    )


@contextlib.contextmanager
def translate_errors(*, connecting: bool = False) -> Iterator[None]:
    """Re-raise every exception of the block as :class:`BackendError` (the one boundary)."""
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(error_for_exception(exc, connecting=connecting)) from exc


#: How long after a call's deadline the watchdog gives a silent server before cutting it off
#: (the server's own statement timeout normally answers first).
WATCHDOG_GRACE_S = 0.25
#: The bound of a ROLLBACK (it has no deadline of its own: the host rolls back on recycle).
ROLLBACK_BOUND_S = 2.0


@contextlib.contextmanager
def _watchdog(conn: psycopg.Connection[Any], deadline: float) -> Iterator[None]:
    """Bound the block by ``deadline`` even when the server answers nothing at all.

    A timer shuts the connection's socket down :data:`WATCHDOG_GRACE_S` after ``deadline``;
    libpq's blocked read then fails, and the block raises ``timeout`` (the connection is closed:
    never reused).
    """
    fired = threading.Event()

    def cut() -> None:
        fired.set()
        with contextlib.suppress(OSError, ValueError, Exception):
            dup = socket.socket(fileno=os.dup(conn.pgconn.socket))
            try:
                dup.shutdown(socket.SHUT_RDWR)
            finally:
                dup.close()

    timer = threading.Timer(max(0.0, deadline - time.monotonic()) + WATCHDOG_GRACE_S, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    except BaseException:
        if not fired.is_set():
            raise
        with contextlib.suppress(Exception):
            conn.close()
        raise BackendError(DbError("timeout")) from None
    finally:
        timer.cancel()
    if fired.is_set():  # answered just as it was cut: the connection is unusable now
        with contextlib.suppress(Exception):
            conn.close()


def _set_timeout(deadline: float) -> str:
    """``SET LOCAL statement_timeout`` for what is left before ``deadline``; timeout if none."""
    ms = math.floor((deadline - time.monotonic()) * 1000)
    if ms < 1:
        raise BackendError(DbError("timeout"))
    return f"SET LOCAL statement_timeout = {ms}"


def _result_error(res: Any, conn: psycopg.Connection[Any]) -> DbError:
    """The ``db-error`` of a failed ``PGresult``."""
    from psycopg.pq import DiagnosticField

    def field_text(code: DiagnosticField) -> str | None:
        value = res.error_field(code)
        return value.decode("utf-8", "replace") if value else None

    sqlstate = field_text(DiagnosticField.SQLSTATE)
    message = (
        field_text(DiagnosticField.MESSAGE_PRIMARY)
        or res.get_error_message().decode("utf-8", "replace").strip()
    )
    if sqlstate is None:
        case = "connection-failed" if conn.closed else "query-failed"
        return DbError(case, message or "the statement failed without a server error")
    return error_for_sqlstate(
        sqlstate,
        message,
        detail=field_text(DiagnosticField.MESSAGE_DETAIL),
        constraint=field_text(DiagnosticField.CONSTRAINT_NAME),
    )


def _execute(
    conn: psycopg.Connection[Any], sql: str, params: Sequence[str], max_rows: int
) -> QueryResult:
    """Run one statement with ``PQexecParams``; parameters text-format, type OID 0."""
    from psycopg.pq import ExecStatus

    res = conn.pgconn.exec_params(sql.encode(), [p.encode() for p in params], result_format=0)
    try:
        if res.status == ExecStatus.FATAL_ERROR:
            raise BackendError(_result_error(res, conn))
        if res.status not in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
            conn.close()  # e.g. COPY mode: the connection's state is unknown, never reuse it
            raise BackendError(
                DbError("query-failed", f"unexpected result status {ExecStatus(res.status).name}")
            )
        if res.ntuples > max_rows:
            raise BackendError(
                DbError(
                    "query-failed",
                    f"the result has {res.ntuples} rows, more than the host's limit of "
                    f"{max_rows}; add LIMIT or narrow the WHERE clause",
                )
            )
        width = range(res.nfields)
        columns = [(res.fname(c) or b"").decode() for c in width]
        rows = [
            [v.decode() if (v := res.get_value(r, c)) is not None else "" for c in width]
            for r in range(res.ntuples)
        ]
        return QueryResult(rows, columns, max(0, res.command_tuples or 0))
    finally:
        res.clear()


def _commit(conn: psycopg.Connection[Any], deadline: float) -> None:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status == TransactionStatus.INERROR:
        raise BackendError(
            DbError(
                "query-failed",
                "the transaction was aborted by an earlier error and has been rolled back; "
                "nothing was committed",
            )
        )
    conn.execute(_set_timeout(deadline))
    status = conn.execute("COMMIT").statusmessage
    if status != "COMMIT":
        raise BackendError(
            DbError("query-failed", f"the server answered {status} to COMMIT; nothing committed")
        )


@dataclass(eq=False)
class PostgresBackend:
    """:class:`DatabaseBackend` on one PostgreSQL server (see the module docstring)."""

    conninfo: str = field(repr=False)
    application_name: str = "flowctl"
    connect_timeout: float = 10.0
    max_idle: int = 2
    max_rows: int = 10_000
    _idle: list[psycopg.Connection[Any]] = field(default_factory=list, repr=False)
    _busy: set[psycopg.Connection[Any]] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = False

    def run(
        self, sql: str, params: Sequence[str], *, read_only: bool, deadline: float
    ) -> QueryResult:
        """Run one statement between ``BEGIN [READ ONLY]`` and ``COMMIT``."""
        conn = self._acquire(deadline)
        try:
            with _watchdog(conn, deadline), translate_errors():
                begin = "BEGIN READ ONLY" if read_only else "BEGIN"
                conn.execute(f"{begin}; {_set_timeout(deadline)}")
                result = _execute(conn, sql, params, self.max_rows)
                _commit(conn, deadline)
                return result
        finally:
            self._release(conn)

    def begin(self, *, deadline: float) -> PostgresTransaction:
        """Begin a transaction on a dedicated connection."""
        conn = self._acquire(deadline)
        try:
            with _watchdog(conn, deadline), translate_errors():
                conn.execute("BEGIN")
        except BaseException:
            self._release(conn)
            raise
        return PostgresTransaction(self, conn)

    def close(self) -> None:
        """Close every connection, idle or in use (idempotent)."""
        with self._lock:
            self._closed = True
            conns = [*self._idle, *self._busy]
            self._idle.clear()
            self._busy.clear()
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    @property
    def connections(self) -> int:
        """How many connections the backend holds (idle and in use)."""
        with self._lock:
            return len(self._idle) + len(self._busy)

    def _acquire(self, deadline: float) -> psycopg.Connection[Any]:
        with self._lock:
            if self._closed:
                raise BackendError(DbError("connection-failed", "the database backend is closed"))
            while self._idle:
                conn = self._idle.pop()
                if not (conn.closed or conn.broken):
                    self._busy.add(conn)
                    return conn
        left = deadline - time.monotonic()
        if left <= 0:
            raise BackendError(DbError("timeout"))
        import psycopg

        with translate_errors(connecting=True):
            conn = psycopg.connect(
                self.conninfo,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(2, math.ceil(min(left, self.connect_timeout))),
                application_name=self.application_name[:63],
                client_encoding="UTF8",
            )
        with self._lock:
            self._busy.add(conn)
        return conn

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        """Return a connection: rolled back to idle and kept, or closed."""
        from psycopg.pq import TransactionStatus

        with self._lock:
            self._busy.discard(conn)
        try:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                with _watchdog(conn, time.monotonic() + ROLLBACK_BOUND_S):
                    conn.execute("ROLLBACK")
            keep = not (conn.closed or conn.broken) and (
                conn.info.transaction_status == TransactionStatus.IDLE
            )
        except Exception:
            keep = False
        with self._lock:
            if keep and not self._closed and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        with contextlib.suppress(Exception):
            conn.close()


class PostgresTransaction:
    """:class:`DatabaseTransaction` holding one connection of a :class:`PostgresBackend`."""

    def __init__(self, backend: PostgresBackend, conn: psycopg.Connection[Any]) -> None:
        self._backend = backend
        self._conn: psycopg.Connection[Any] | None = conn

    def _live(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise BackendError(DbError("query-failed", "the transaction has already ended"))
        return self._conn

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._backend._release(conn)  # rolls back whatever is still open

    def run(self, sql: str, params: Sequence[str], *, deadline: float) -> QueryResult:
        """Run one statement in this transaction, bounded by ``deadline``."""
        conn = self._live()
        with _watchdog(conn, deadline), translate_errors():
            conn.execute(_set_timeout(deadline))
            return _execute(conn, sql, params, self._backend.max_rows)

    def commit(self, *, deadline: float) -> None:
        """Commit; the transaction ends rolled back if the commit cannot happen."""
        conn = self._live()
        try:
            with _watchdog(conn, deadline), translate_errors():
                _commit(conn, deadline)
        finally:
            self._finish()

    def rollback(self) -> None:
        """Roll back and end the transaction."""
        conn = self._live()
        try:
            with _watchdog(conn, time.monotonic() + ROLLBACK_BOUND_S), translate_errors():
                conn.execute("ROLLBACK")
        finally:
            self._finish()
