"""SQL allowlisting for the ``database`` capability, on a real PostgreSQL parser (pglast).

The design document allowlisted tables with ``strings.Contains``, which admits
``SELECT * FROM secrets -- allowed_table``.  Here the statement is parsed and every relation it
touches is checked.  :meth:`SqlRules.check` applies, in this order:

1. Exactly one statement that parses (``invalid-query`` otherwise: syntax errors, empty input,
   ``SELECT 1; DROP TABLE t``).
2. The statement is ``SELECT``, ``INSERT``, ``UPDATE`` or ``DELETE`` (``permission-denied`` for
   DDL, ``COPY``, ``DO``, ``CALL``, ``SET``/``RESET``/``SHOW`` including ``SET ROLE``, ``LOCK``,
   ``LISTEN``/``NOTIFY``, ``VACUUM``, ``EXPLAIN``, ``MERGE``, ``PREPARE``/``EXECUTE``, transaction
   control -- the capability has its own transaction functions -- and ``SELECT ... INTO``).
3. The WIT function fits the statement: ``query`` runs read-only ``SELECT`` only (a data-modifying
   ``WITH`` makes a ``SELECT`` a write); ``execute`` runs ``INSERT``/``UPDATE``/``DELETE``
   (``invalid-query`` otherwise).
4. Every operation the statement performs (including ones in ``WITH`` and the ``UPDATE`` of
   ``INSERT ... ON CONFLICT DO UPDATE``) is in ``allowed_operations`` (``permission-denied``).
5. Every relation it reads or writes -- ``FROM``, joins, sub-queries anywhere, ``WITH`` bodies,
   ``INSERT ... SELECT``, ``UPDATE ... FROM``, ``DELETE ... USING``, ``RETURNING`` -- is in
   ``allowed_tables``.  Names a ``WITH`` defines are local, with PostgreSQL's scoping (a
   non-recursive CTE body does not see its own name, so ``WITH secrets AS (SELECT * FROM
   secrets)`` still reads the table); the target of ``INSERT``/``UPDATE``/``DELETE`` is always a
   table.  ``pg_catalog``, ``information_schema``, any ``pg_*`` schema and unqualified ``pg_*``
   names (which resolve to ``pg_catalog`` first) are always refused (``permission-denied``).
6. Every function called is in :data:`SAFE_FUNCTIONS` (``permission-denied`` otherwise).
7. Parameters ``$1..$n`` are numbered without gaps and, if the caller passes ``params``, there is
   exactly one per number (``invalid-query``).

Table entries are ``table`` or ``schema.table``, folded to lower case like unquoted SQL
identifiers.  An unqualified entry allows unqualified references; ``schema.table`` references
are allowed only by an entry with that schema.  If ``schema`` (the schema unqualified names
resolve to, e.g. ``public``) is given, ``t`` and ``public.t`` are interchangeable.

**Why this is one long module**: the seven rules are one decision taken over one parse tree by
:meth:`SqlRules.check`, in the order listed; the scan, the function list and the entry parser serve
only that decision, and reading it top to bottom is the review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pglast import ast, parse_sql
from pglast.enums import OnConflictAction
from pglast.parser import ParseError

__all__ = [
    "OPERATIONS",
    "SAFE_FUNCTIONS",
    "SqlCode",
    "SqlDecision",
    "SqlRules",
    "kind_for_function",
    "parse_table_entry",
]

OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE")
MAX_SQL_LENGTH = 100_000
_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")
_DML = {
    ast.SelectStmt: "SELECT",
    ast.InsertStmt: "INSERT",
    ast.UpdateStmt: "UPDATE",
    ast.DeleteStmt: "DELETE",
}
_STATEMENT_NAMES = {
    "CopyStmt": "COPY",
    "DoStmt": "DO",
    "CallStmt": "CALL",
    "VariableSetStmt": "SET/RESET",
    "VariableShowStmt": "SHOW",
    "LockStmt": "LOCK",
    "ListenStmt": "LISTEN",
    "NotifyStmt": "NOTIFY",
    "UnlistenStmt": "UNLISTEN",
    "VacuumStmt": "VACUUM/ANALYZE",
    "ExplainStmt": "EXPLAIN",
    "MergeStmt": "MERGE",
    "TruncateStmt": "TRUNCATE",
    "PrepareStmt": "PREPARE",
    "ExecuteStmt": "EXECUTE",
    "DeallocateStmt": "DEALLOCATE",
    "DeclareCursorStmt": "DECLARE CURSOR",
    "FetchStmt": "FETCH",
    "DiscardStmt": "DISCARD",
    "CheckPointStmt": "CHECKPOINT",
    "LoadStmt": "LOAD",
    "ClusterStmt": "CLUSTER",
    "ReindexStmt": "REINDEX",
    "GrantStmt": "GRANT/REVOKE",
    "GrantRoleStmt": "GRANT/REVOKE ROLE",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
}
_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema"})
_DANGEROUS_PREFIXES = (
    "pg_",
    "dblink",
    "lo_",
    "set_config",
    "current_setting",
    "query_to_xml",
    "table_to_xml",
    "cursor_to_xml",
    "schema_to_xml",
    "database_to_xml",
    "copy",
)

_SAFE_FUNCTION_NAMES = (
    # aggregates and window functions
    "count sum avg min max string_agg array_agg json_agg jsonb_agg json_object_agg "
    "jsonb_object_agg bool_and bool_or every stddev stddev_pop stddev_samp variance var_pop "
    "var_samp percentile_cont percentile_disc mode row_number rank dense_rank percent_rank "
    "cume_dist ntile lag lead first_value last_value nth_value "
    # strings
    "lower upper length char_length character_length octet_length concat concat_ws substring "
    "substr btrim ltrim rtrim trim left right lpad rpad replace split_part position strpos "
    "starts_with reverse initcap format md5 encode decode to_hex regexp_replace regexp_match "
    "regexp_matches overlay "
    # numbers
    "abs round ceil ceiling floor trunc mod power sqrt sign div "
    # dates and times
    "now date_trunc date_part extract age to_char to_date to_timestamp to_number make_date "
    "make_timestamp make_timestamptz make_interval timezone clock_timestamp statement_timestamp "
    "transaction_timestamp date_bin isfinite "
    # json and arrays
    "to_json to_jsonb json_build_object jsonb_build_object json_build_array jsonb_build_array "
    "json_extract_path json_extract_path_text jsonb_extract_path jsonb_extract_path_text "
    "json_array_length jsonb_array_length json_typeof jsonb_typeof jsonb_set jsonb_strip_nulls "
    "jsonb_array_elements jsonb_array_elements_text jsonb_each jsonb_each_text row_to_json "
    "array_length cardinality unnest array_position array_to_string string_to_array "
    # misc
    "coalesce nullif gen_random_uuid num_nonnulls num_nulls"
)
SAFE_FUNCTIONS = frozenset(_SAFE_FUNCTION_NAMES.split())


class SqlCode(StrEnum):
    """Why a statement was allowed or refused; ``expected_error_case`` maps it to a WIT case."""

    OK = "ok"
    PARSE_ERROR = "parse-error"
    EMPTY = "empty"
    MULTIPLE_STATEMENTS = "multiple-statements"
    WRONG_FUNCTION = "wrong-function"
    PARAM_MISMATCH = "param-mismatch"
    STATEMENT_FORBIDDEN = "statement-forbidden"
    OPERATION_NOT_ALLOWED = "operation-not-allowed"
    SYSTEM_CATALOG = "system-catalog"
    TABLE_NOT_ALLOWED = "table-not-allowed"
    FUNCTION_NOT_ALLOWED = "function-not-allowed"


@dataclass(frozen=True, slots=True)
class SqlDecision:
    """The verdict on one SQL text."""

    allowed: bool
    reason: str
    code: SqlCode
    kind: str | None = None
    tables: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    param_count: int = 0


def kind_for_function(function: str) -> frozenset[str]:
    """Return the statement kinds a WIT ``database`` function may run."""
    kinds = {
        "query": frozenset({"SELECT"}),
        "execute": frozenset({"INSERT", "UPDATE", "DELETE"}),
        "is-query-allowed": frozenset(OPERATIONS),
    }
    if function not in kinds:
        raise ValueError(f"unknown database function {function!r}; expected one of {list(kinds)}")
    return kinds[function]


def parse_table_entry(entry: str) -> tuple[str | None, str]:
    """Parse an ``allowed_tables`` entry into ``(schema, table)``; raise ValueError if invalid."""
    parts = entry.strip().lower().split(".") if isinstance(entry, str) else []
    if not 1 <= len(parts) <= 2 or not all(_IDENT.fullmatch(part) for part in parts):
        raise ValueError(f"{entry!r}: expected 'table' or 'schema.table' (SQL identifiers)")
    if len(parts) == 2 and (parts[0] in _SYSTEM_SCHEMAS or parts[0].startswith("pg_")):
        raise ValueError(f"{entry!r}: system schemas can never be allowed")
    if parts[-1].startswith("pg_"):
        raise ValueError(f"{entry!r}: pg_* relations can never be allowed")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


@dataclass
class _Scan:
    """What one walk over a statement found."""

    tables: list[tuple[str | None, str, str | None]] = field(default_factory=list)
    functions: list[tuple[str, ...]] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    params: set[int] = field(default_factory=set)
    forbidden: list[str] = field(default_factory=list)

    def visit(self, node: object, scope: frozenset[str]) -> None:
        """Record every relation, function, operation and parameter under ``node``."""
        if isinstance(node, tuple):
            for item in node:
                self.visit(item, scope)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.RangeVar):
            name = node.relname or ""
            if node.schemaname is not None or node.catalogname is not None or name not in scope:
                self.tables.append((node.schemaname, name, node.catalogname))
            return
        self._note(node)
        with_clause = getattr(node, "withClause", None)
        if isinstance(with_clause, ast.WithClause):
            scope = self._visit_with(with_clause, scope)
        slots: Iterable[str] = getattr(node, "__slots__", ())
        for name in slots:
            if name in {"withClause", "location"}:
                continue
            if name == "lockedRels" and isinstance(node, ast.LockingClause):
                continue  # FOR UPDATE OF <alias>: names FROM items, which are checked there
            child_scope = frozenset() if name == "relation" and _is_dml(node) else scope
            self.visit(getattr(node, name), child_scope)

    def _note(self, node: ast.Node) -> None:
        if isinstance(node, ast.FuncCall):
            self.functions.append(tuple(getattr(p, "sval", "?") for p in node.funcname or ()))
        elif isinstance(node, ast.ParamRef):
            self.params.add(node.number or 0)
        elif isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
            self.operations.add(_DML[type(node)])
        elif isinstance(node, ast.MergeStmt):
            self.forbidden.append("MERGE")
        elif isinstance(node, ast.SelectStmt) and node.intoClause is not None:
            self.forbidden.append("SELECT ... INTO (creates a table)")
        elif isinstance(node, ast.OnConflictClause) and (
            node.action == OnConflictAction.ONCONFLICT_UPDATE
        ):
            self.operations.add("UPDATE")

    def _visit_with(self, clause: ast.WithClause, scope: frozenset[str]) -> frozenset[str]:
        ctes = clause.ctes or ()
        names = frozenset(cte.ctename for cte in ctes)
        inner = scope | names if clause.recursive else scope
        for cte in ctes:
            self.visit(cte.ctequery, inner)
            if not clause.recursive:
                inner = inner | {cte.ctename}
        return scope | names


def _is_dml(node: ast.Node) -> bool:
    return isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt)


def _dotted(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


class SqlRules:
    """Decide whether the ``database`` capability may run a statement (see module docstring)."""

    def __init__(
        self,
        allowed_tables: Iterable[str],
        allowed_operations: Iterable[str],
        schema: str | None = None,
    ) -> None:
        self.schema = schema.lower() if schema else None
        self.operations = frozenset(op.strip().upper() for op in allowed_operations)
        unknown = self.operations - set(OPERATIONS)
        if unknown:
            raise ValueError(
                f"unknown operations {sorted(unknown)}; expected a subset of {list(OPERATIONS)}"
            )
        allowed: set[tuple[str | None, str]] = set()
        for entry in allowed_tables:
            table_schema, table = parse_table_entry(entry)
            allowed.add((table_schema, table))
            if self.schema is not None and table_schema in {None, self.schema}:
                allowed |= {(None, table), (self.schema, table)}
        self.tables = frozenset(allowed)

    def __repr__(self) -> str:
        tables = sorted(_dotted(s, t) for s, t in self.tables)
        return f"SqlRules(tables={tables!r}, operations={sorted(self.operations)!r})"

    def is_allowed(self, sql: str) -> bool:
        """Answer ``is-query-allowed``: exactly ``check(sql).allowed``."""
        return self.check(sql).allowed

    def check(
        self, sql: str, function: str | None = None, params: Sequence[str] | None = None
    ) -> SqlDecision:
        """Check one SQL text for ``function`` (``query``/``execute``/None) and its ``params``."""
        if not isinstance(sql, str) or len(sql) > MAX_SQL_LENGTH:
            return SqlDecision(
                False,
                f"SQL must be a string of at most {MAX_SQL_LENGTH} characters",
                SqlCode.PARSE_ERROR,
            )
        try:
            statements = parse_sql(sql)
        except ParseError as exc:
            return SqlDecision(False, f"SQL does not parse: {exc}", SqlCode.PARSE_ERROR)
        except RecursionError:
            return SqlDecision(False, "SQL is nested too deeply", SqlCode.PARSE_ERROR)
        if not statements:
            return SqlDecision(False, "no SQL statement given", SqlCode.EMPTY)
        if len(statements) > 1:
            return SqlDecision(
                False,
                f"exactly one statement per call is allowed, got {len(statements)}",
                SqlCode.MULTIPLE_STATEMENTS,
            )
        stmt = statements[0].stmt
        assert stmt is not None
        kind = _DML.get(type(stmt))
        if kind is None:
            name = type(stmt).__name__
            label = _STATEMENT_NAMES.get(name, f"DDL/utility statement ({name})")
            if isinstance(stmt, ast.TransactionStmt):
                label = "transaction control (use begin-/commit-/rollback-transaction)"
            return SqlDecision(
                False,
                f"{label} is not allowed; only SELECT, INSERT, UPDATE and DELETE are",
                SqlCode.STATEMENT_FORBIDDEN,
                kind=_STATEMENT_NAMES.get(name, name.removesuffix("Stmt").upper()),
            )
        return self._check_dml(stmt, kind, function, params)

    def _check_dml(
        self, stmt: ast.Node, kind: str, function: str | None, params: Sequence[str] | None
    ) -> SqlDecision:
        scan = _Scan()
        try:
            scan.visit(stmt, frozenset())
        except RecursionError:
            return SqlDecision(False, "SQL is nested too deeply", SqlCode.PARSE_ERROR, kind=kind)
        scan.operations.add(kind)
        tables = tuple(sorted({_dotted(s, t) for s, t, _ in scan.tables}))
        ops = tuple(op for op in OPERATIONS if op in scan.operations)
        funcs = tuple(sorted({".".join(f) for f in scan.functions}))
        count = max(scan.params, default=0)

        def deny(code: SqlCode, reason: str) -> SqlDecision:
            return SqlDecision(False, reason, code, kind, tables, ops, funcs, count)

        if scan.forbidden:
            return deny(SqlCode.STATEMENT_FORBIDDEN, f"{scan.forbidden[0]} is not allowed")
        if function is not None:
            writes = [op for op in ops if op != "SELECT"]
            if function == "query" and writes:
                return deny(
                    SqlCode.WRONG_FUNCTION,
                    f"query runs read-only SELECT statements; "
                    f"this one performs {'/'.join(writes)} (use execute)",
                )
            if kind not in kind_for_function(function):
                return deny(
                    SqlCode.WRONG_FUNCTION,
                    f"{function} does not run {kind} statements "
                    f"(use {'query' if kind == 'SELECT' else 'execute'})",
                )
        refused_ops = [op for op in ops if op not in self.operations]
        if refused_ops:
            return deny(
                SqlCode.OPERATION_NOT_ALLOWED,
                f"operation {refused_ops[0]} is not in "
                f"allowed_operations {sorted(self.operations)}",
            )
        for schema, name, catalog in scan.tables:
            problem = self._relation_problem(schema, name, catalog)
            if problem is not None:
                return deny(*problem)
        for parts in scan.functions:
            problem_text = _function_problem(parts)
            if problem_text is not None:
                return deny(SqlCode.FUNCTION_NOT_ALLOWED, problem_text)
        if scan.params != set(range(1, count + 1)):
            return deny(
                SqlCode.PARAM_MISMATCH,
                f"parameters must be numbered $1..$n without gaps, "
                f"got {sorted(f'${n}' for n in scan.params)}",
            )
        if params is not None and len(params) != count:
            return deny(
                SqlCode.PARAM_MISMATCH,
                f"the statement uses {count} parameter(s) but {len(params)} were given",
            )
        return SqlDecision(True, f"{kind} allowed", SqlCode.OK, kind, tables, ops, funcs, count)

    def _relation_problem(
        self, schema: str | None, name: str, catalog: str | None
    ) -> tuple[SqlCode, str] | None:
        shown = _dotted(schema, name)
        if catalog is not None:
            return SqlCode.TABLE_NOT_ALLOWED, f"cross-database reference {catalog}.{shown} refused"
        if (schema is not None and (schema in _SYSTEM_SCHEMAS or schema.startswith("pg_"))) or (
            schema is None and name.startswith("pg_")
        ):
            return SqlCode.SYSTEM_CATALOG, f"system catalog {shown} is never allowed"
        if (schema, name) not in self.tables:
            return SqlCode.TABLE_NOT_ALLOWED, f"table {shown} is not in allowed_tables"
        return None


def _function_problem(parts: tuple[str, ...]) -> str | None:
    shown = ".".join(parts)
    name = parts[-1].lower()
    qualified_ok = len(parts) == 1 or (len(parts) == 2 and parts[0] == "pg_catalog")
    if qualified_ok and name in SAFE_FUNCTIONS:
        return None
    if name.startswith(_DANGEROUS_PREFIXES):
        return f"function {shown} is dangerous and never allowed"
    return f"function {shown} is not in the safe function list"
