"""reference_host.rules.sql: statement, table and function allowlisting on pglast."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_host.rules import expected_error_case
from reference_host.rules.sql import (
    SAFE_FUNCTIONS,
    SqlCode,
    SqlRules,
    kind_for_function,
    parse_table_entry,
)

RULES = SqlRules(["events", "ledger", "app.accounts"], ["SELECT", "insert", "Update"])
ALL_OPS = SqlRules(["events", "ledger"], ["SELECT", "INSERT", "UPDATE", "DELETE"])


def code(sql: str, function: str | None = None, rules: SqlRules = RULES) -> SqlCode:
    decision = rules.check(sql, function)
    assert rules.is_allowed(sql) is rules.check(sql).allowed
    assert decision.allowed == (decision.code is SqlCode.OK)
    return decision.code


# ---------------------------------------------------------------------- relations everywhere

SECRET_READS = [
    "SELECT * FROM secrets",
    "SELECT * FROM secrets -- events",
    "SELECT * FROM events /* ; */ JOIN secrets ON true",
    "SELECT * FROM events e LEFT JOIN ledger l ON true FULL JOIN secrets s ON true",
    "SELECT * FROM events, secrets",
    "SELECT a FROM events UNION SELECT b FROM secrets",
    "SELECT a FROM events INTERSECT SELECT b FROM secrets",
    "SELECT a FROM events EXCEPT ALL SELECT b FROM secrets",
    "SELECT * FROM events WHERE id IN (SELECT id FROM secrets)",
    "SELECT * FROM events WHERE EXISTS (SELECT 1 FROM secrets)",
    "SELECT (SELECT max(x) FROM secrets) FROM events",
    "SELECT count(*) FROM events GROUP BY kind HAVING count(*) > (SELECT count(*) FROM secrets)",
    "SELECT * FROM events ORDER BY (SELECT min(x) FROM secrets)",
    "SELECT * FROM events LIMIT (SELECT count(*) FROM secrets)",
    "SELECT * FROM (SELECT * FROM secrets) AS s",
    "SELECT * FROM events e, LATERAL (SELECT * FROM secrets WHERE id = e.id) s",
    "SELECT ARRAY(SELECT x FROM secrets)",
    "SELECT CASE WHEN true THEN (SELECT x FROM secrets) END",
    "SELECT coalesce((SELECT x FROM secrets), 'a')",
    "SELECT * FROM events WHERE id = ANY (SELECT id FROM secrets)",
    "WITH t AS (SELECT * FROM secrets) SELECT * FROM t",
    "WITH t AS (SELECT * FROM events), u AS (SELECT * FROM secrets) SELECT * FROM t, u",
    "WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets",
    "WITH events AS (SELECT * FROM secrets) SELECT * FROM events",
    "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
    "SELECT * FROM events WHERE id IN (WITH s AS (SELECT * FROM secrets) SELECT id FROM s)",
    "TABLE secrets",
    "SELECT * FROM ONLY secrets",
    "SELECT * FROM secrets TABLESAMPLE SYSTEM (10)",
    "VALUES ((SELECT x FROM secrets))",
]


@pytest.mark.parametrize("sql", SECRET_READS)
def test_every_relation_is_checked(sql: str) -> None:
    decision = RULES.check(sql, "query")
    assert decision.code is SqlCode.TABLE_NOT_ALLOWED, decision.reason
    assert "secrets" in decision.tables or "b" in decision.tables
    assert expected_error_case(decision) == "permission-denied"


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT * FROM events", ("events",)),
        ("select * from EVENTS e join LEDGER l on e.id = l.id", ("events", "ledger")),
        ("SELECT * FROM app.accounts", ("app.accounts",)),
        (
            "WITH x AS (SELECT * FROM events) SELECT * FROM x JOIN ledger ON true",
            ("events", "ledger"),
        ),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
            "SELECT * FROM r",
            (),
        ),
        ("WITH a AS (SELECT 1 AS v), b AS (SELECT * FROM a) SELECT * FROM b", ()),
        ("SELECT 1", ()),
        ("SELECT * FROM events WHERE id = (SELECT max(id) FROM ledger)", ("events", "ledger")),
        ("SELECT * FROM events e FOR UPDATE OF e", ("events",)),
        ("SELECT * FROM events FOR SHARE SKIP LOCKED", ("events",)),
        ("VALUES (1), (2)", ()),
    ],
)
def test_allowed_selects(sql: str, tables: tuple[str, ...]) -> None:
    decision = RULES.check(sql, "query")
    assert decision.allowed, decision.reason
    assert decision.tables == tables
    assert decision.kind == "SELECT"


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        ("INSERT INTO events (id) SELECT id FROM secrets", "execute"),
        ("INSERT INTO events (id) VALUES ((SELECT id FROM secrets))", "execute"),
        ("INSERT INTO events (id) VALUES (1) RETURNING (SELECT x FROM secrets)", "execute"),
        ("UPDATE events SET a = s.a FROM secrets s WHERE s.id = events.id", "execute"),
        ("UPDATE events SET a = (SELECT a FROM secrets)", "execute"),
        ("UPDATE secrets SET a = 1", "execute"),
        ("INSERT INTO secrets VALUES (1)", "execute"),
        ("WITH secrets AS (SELECT 1) UPDATE secrets SET a = 1", "execute"),
        ("WITH secrets AS (SELECT 1) INSERT INTO secrets VALUES (1)", "execute"),
        (
            "WITH x AS (INSERT INTO secrets VALUES (1) RETURNING *) INSERT INTO events SELECT * FROM x",
            "execute",
        ),
    ],
)
def test_writes_check_every_relation(sql: str, function: str) -> None:
    decision = RULES.check(sql, function)
    assert decision.code is SqlCode.TABLE_NOT_ALLOWED, decision.reason


def test_delete_using_and_cte_target_is_a_table() -> None:
    assert code("DELETE FROM events USING secrets", "execute", ALL_OPS) is SqlCode.TABLE_NOT_ALLOWED
    assert (
        code("DELETE FROM events WHERE id IN (SELECT id FROM secrets)", "execute", ALL_OPS)
        is SqlCode.TABLE_NOT_ALLOWED
    )
    assert (
        code("WITH secrets AS (SELECT 1) DELETE FROM secrets", "execute", ALL_OPS)
        is SqlCode.TABLE_NOT_ALLOWED
    )
    assert code("DELETE FROM events RETURNING id", "execute", ALL_OPS) is SqlCode.OK


# ---------------------------------------------------------------------- schemas and catalogs


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM other.events", SqlCode.TABLE_NOT_ALLOWED),
        ("SELECT * FROM public.events", SqlCode.TABLE_NOT_ALLOWED),
        ("SELECT * FROM accounts", SqlCode.TABLE_NOT_ALLOWED),
        ("SELECT * FROM other.accounts", SqlCode.TABLE_NOT_ALLOWED),
        ("SELECT * FROM db.app.accounts", SqlCode.TABLE_NOT_ALLOWED),
        ('SELECT * FROM "Events"', SqlCode.TABLE_NOT_ALLOWED),
        ("SELECT * FROM pg_catalog.pg_authid", SqlCode.SYSTEM_CATALOG),
        ("SELECT * FROM PG_CATALOG.pg_class", SqlCode.SYSTEM_CATALOG),
        ("SELECT * FROM information_schema.tables", SqlCode.SYSTEM_CATALOG),
        ("SELECT * FROM pg_toast.pg_toast_1", SqlCode.SYSTEM_CATALOG),
        ("SELECT * FROM pg_shadow", SqlCode.SYSTEM_CATALOG),
        ("SELECT * FROM pg_stat_activity", SqlCode.SYSTEM_CATALOG),
        ("SELECT * FROM events WHERE id IN (SELECT oid FROM pg_class)", SqlCode.SYSTEM_CATALOG),
    ],
)
def test_schema_rules(sql: str, expected: SqlCode) -> None:
    assert code(sql) is expected


def test_default_schema_makes_qualified_and_bare_names_equal() -> None:
    rules = SqlRules(["events", "public.ledger"], ["SELECT"], schema="public")
    for sql in (
        "SELECT * FROM events",
        "SELECT * FROM public.events",
        "SELECT * FROM ledger",
        "SELECT * FROM public.ledger",
    ):
        assert rules.check(sql).allowed, sql
    assert not rules.check("SELECT * FROM other.events").allowed
    without = SqlRules(["public.ledger"], ["SELECT"])
    assert not without.check("SELECT * FROM ledger").allowed


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("events", (None, "events")),
        ("App.Accounts", ("app", "accounts")),
        (" ledger ", (None, "ledger")),
    ],
)
def test_parse_table_entry(entry: str, parsed: tuple[str | None, str]) -> None:
    assert parse_table_entry(entry) == parsed


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "a.b.c",
        "pg_catalog.pg_class",
        "information_schema.tables",
        "pg_shadow",
        "1table",
        "bad name",
        "events;",
        "*",
        "pg_temp.x",
    ],
)
def test_bad_table_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="."):
        parse_table_entry(entry)


# ---------------------------------------------------------------------- statement kinds

FORBIDDEN = [
    "COPY events TO '/tmp/x'",
    "COPY events FROM PROGRAM 'id'",
    "COPY (SELECT 1) TO STDOUT",
    "DO $$ BEGIN END $$",
    "CALL p()",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SET search_path TO evil",
    "RESET ROLE",
    "RESET ALL",
    "SHOW ALL",
    "LOCK events",
    "LISTEN chan",
    "NOTIFY chan",
    "UNLISTEN *",
    "VACUUM events",
    "ANALYZE events",
    "EXPLAIN SELECT 1",
    "EXPLAIN ANALYZE DELETE FROM events",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "START TRANSACTION",
    "SAVEPOINT s",
    "PREPARE TRANSACTION 'x'",
    "DROP TABLE events",
    "CREATE TABLE t (a int)",
    "ALTER TABLE events ADD COLUMN x int",
    "TRUNCATE events",
    "GRANT ALL ON events TO public",
    "CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql",
    "CREATE EXTENSION dblink",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "DEALLOCATE p",
    "DECLARE c CURSOR FOR SELECT * FROM events",
    "DISCARD ALL",
    "LOAD 'x'",
    "CHECKPOINT",
    "REFRESH MATERIALIZED VIEW v",
    "CREATE TABLE t AS SELECT * FROM events",
    "MERGE INTO events USING ledger ON true WHEN MATCHED THEN DELETE",
    "SELECT * INTO stolen FROM events",
    "ALTER SYSTEM SET fsync = off",
    "CLUSTER events",
]


@pytest.mark.parametrize("sql", FORBIDDEN)
def test_forbidden_statements(sql: str) -> None:
    decision = RULES.check(sql)
    assert decision.code is SqlCode.STATEMENT_FORBIDDEN, decision.reason
    assert expected_error_case(decision) == "permission-denied"


def test_transaction_control_names_the_remedy() -> None:
    assert "begin-/commit-/rollback-transaction" in RULES.check("BEGIN").reason


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY events TO STDOUT", "COPY"),
        ("SET ROLE x", "SET/RESET"),
        ("DROP TABLE t", "DROP"),
        ("BEGIN", "TRANSACTION"),
        ("DELETE FROM events", "DELETE"),
    ],
)
def test_decision_kind(sql: str, kind: str) -> None:
    assert RULES.check(sql).kind == kind


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("", SqlCode.EMPTY),
        ("   ", SqlCode.EMPTY),
        ("-- only a comment", SqlCode.EMPTY),
        (";", SqlCode.EMPTY),
        ("SELEC 1", SqlCode.PARSE_ERROR),
        ("SELECT * FROM events WHERE", SqlCode.PARSE_ERROR),
        ("SELECT 1; SELECT 2", SqlCode.MULTIPLE_STATEMENTS),
        ("SELECT * FROM events; DROP TABLE events", SqlCode.MULTIPLE_STATEMENTS),
        ("SELECT 1;;SELECT 2", SqlCode.MULTIPLE_STATEMENTS),
        ("SELECT 'a;b' FROM events", SqlCode.OK),
        ("SELECT 1;", SqlCode.OK),
        ("SELECT " + "(SELECT " * 3000 + "1" + ")" * 3000, SqlCode.PARSE_ERROR),
        ("x" * 100_001, SqlCode.PARSE_ERROR),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else str(value),
)
def test_one_parseable_statement(sql: str, expected: SqlCode) -> None:
    decision = RULES.check(sql)
    assert decision.code is expected, decision.reason
    if expected is not SqlCode.OK:
        assert expected_error_case(decision) == "invalid-query"


def test_operations_must_be_allowed() -> None:
    assert code("DELETE FROM events", "execute") is SqlCode.OPERATION_NOT_ALLOWED
    assert code("UPDATE events SET a = 1", "execute") is SqlCode.OK
    read_only = SqlRules(["events"], ["select"])
    assert code("INSERT INTO events VALUES (1)", "execute", read_only) is (
        SqlCode.OPERATION_NOT_ALLOWED
    )
    upsert = "INSERT INTO events (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2"
    insert_only = SqlRules(["events"], ["INSERT"])
    assert insert_only.check(upsert).code is SqlCode.OPERATION_NOT_ALLOWED
    assert insert_only.check(upsert.replace("DO UPDATE SET id = 2", "DO NOTHING")).allowed
    assert RULES.check(upsert).operations == ("INSERT", "UPDATE")


@pytest.mark.parametrize(
    ("sql", "function", "expected"),
    [
        ("SELECT * FROM events", "query", SqlCode.OK),
        ("SELECT * FROM events", "execute", SqlCode.WRONG_FUNCTION),
        ("INSERT INTO events VALUES (1)", "query", SqlCode.WRONG_FUNCTION),
        ("INSERT INTO events VALUES (1) RETURNING *", "query", SqlCode.WRONG_FUNCTION),
        ("INSERT INTO events VALUES (1)", "execute", SqlCode.OK),
        (
            "WITH d AS (UPDATE events SET a = 1 RETURNING *) SELECT * FROM d",
            "query",
            SqlCode.WRONG_FUNCTION,
        ),
        (
            "WITH d AS (UPDATE events SET a = 1 RETURNING *) SELECT * FROM d",
            "is-query-allowed",
            SqlCode.OK,
        ),
        (
            "WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d",
            None,
            SqlCode.OPERATION_NOT_ALLOWED,
        ),
    ],
)
def test_function_kinds(sql: str, function: str | None, expected: SqlCode) -> None:
    decision = RULES.check(sql, function)
    assert decision.code is expected, decision.reason
    if expected is SqlCode.WRONG_FUNCTION:
        assert expected_error_case(decision) == "invalid-query"


def test_kind_for_function() -> None:
    assert kind_for_function("query") == {"SELECT"}
    assert kind_for_function("execute") == {"INSERT", "UPDATE", "DELETE"}
    assert kind_for_function("is-query-allowed") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    with pytest.raises(ValueError, match="unknown database function"):
        kind_for_function("begin-transaction")


def test_unknown_operations_are_rejected() -> None:
    with pytest.raises(ValueError, match="TRUNCATE"):
        SqlRules(["events"], ["SELECT", "TRUNCATE"])


# ---------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT lower(kind), upper(kind), length(kind), count(*), sum(a), avg(a) FROM events "
        "GROUP BY 1, 2, 3",
        "SELECT coalesce(a, b), nullif(a, b), greatest(a, b), least(a, b) FROM events",
        "SELECT now(), current_timestamp, date_trunc('day', ts), extract(epoch FROM ts) FROM events",
        "SELECT trim(kind), substring(kind FROM 1 FOR 2), position('a' IN kind) FROM events",
        "SELECT ts AT TIME ZONE 'UTC', abs(a), round(a, 2), concat(a, b) FROM events",
        "SELECT row_number() OVER (ORDER BY ts) FROM events",
        "SELECT pg_catalog.lower(kind) FROM events",
        "SELECT kind::text, CAST(a AS int) FROM events WHERE kind LIKE 'a%' AND a BETWEEN 1 AND 2",
    ],
)
def test_safe_functions(sql: str) -> None:
    decision = RULES.check(sql, "query")
    assert decision.allowed, decision.reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_read_binary_file('/etc/passwd')",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT pg_sleep(10)",
        "SELECT pg_sleep_for('1 hour')",
        "SELECT * FROM dblink('h', 'q') AS t(a int)",
        "SELECT dblink_exec('h', 'q')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT lo_export(1, '/tmp/x')",
        "SELECT pg_terminate_backend(1)",
        "SELECT set_config('role', 'x', false)",
        "SELECT current_setting('data_directory')",
        "SELECT pg_stat_file('x')",
        "SELECT query_to_xml('select 1', true, true, '')",
        "SELECT nextval('seq')",
        "SELECT version()",
        "SELECT my_function()",
        "SELECT evil.lower(kind) FROM events",
        "SELECT * FROM events WHERE pg_sleep(1) IS NULL",
        "SELECT * FROM generate_series(1, 1000000000)",
        "SELECT * FROM events ORDER BY pg_sleep(1)",
        "SELECT count(pg_sleep(1)) FROM events",
        "SELECT txid_current()",
    ],
)
def test_other_functions_are_refused(sql: str) -> None:
    decision = RULES.check(sql)
    assert decision.code is SqlCode.FUNCTION_NOT_ALLOWED, decision.reason
    assert expected_error_case(decision) == "permission-denied"


def test_dangerous_functions_are_never_on_the_safe_list() -> None:
    dangerous = ("pg_", "dblink", "lo_", "set_config", "current_setting", "query_to_xml", "copy")
    assert not [name for name in SAFE_FUNCTIONS if name.startswith(dangerous)]


# ---------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("sql", "params", "count", "expected"),
    [
        ("SELECT * FROM events WHERE id = $1", ["1"], 1, SqlCode.OK),
        ("SELECT * FROM events WHERE id = $1 OR id = $1", ["1"], 1, SqlCode.OK),
        ("SELECT * FROM events WHERE id = $2 AND kind = $1", ["a", "b"], 2, SqlCode.OK),
        ("SELECT * FROM events", [], 0, SqlCode.OK),
        ("SELECT * FROM events WHERE id = $1", [], 1, SqlCode.PARAM_MISMATCH),
        ("SELECT * FROM events WHERE id = $1", ["1", "2"], 1, SqlCode.PARAM_MISMATCH),
        ("SELECT * FROM events WHERE id = $2", ["1", "2"], 2, SqlCode.PARAM_MISMATCH),
        (
            "SELECT * FROM events WHERE id IN (SELECT id FROM ledger WHERE a = $1)",
            ["1"],
            1,
            SqlCode.OK,
        ),
    ],
)
def test_parameters(sql: str, params: list[str], count: int, expected: SqlCode) -> None:
    decision = RULES.check(sql, "query", params)
    assert decision.code is expected, decision.reason
    assert decision.param_count == count
    assert RULES.check(sql).param_count == count


# ---------------------------------------------------------------------- properties

IDENT = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("abcdefgpstxyz_"),
    st.text(alphabet="abcdefgpstxyz_0129", max_size=12),
).filter(lambda name: name not in {"events", "ledger", "accounts"} and not name.startswith("pg_"))


@settings(max_examples=50)
@given(name=IDENT)
def test_any_unlisted_table_is_refused_wherever_it_appears(name: str) -> None:
    table = f'"{name}"'  # quoted: any identifier, keywords included
    for sql in (
        f"SELECT * FROM {table}",
        f"SELECT * FROM events JOIN {table} ON true",
        f"SELECT * FROM events WHERE id IN (SELECT id FROM {table})",
        f"WITH x AS (SELECT * FROM {table}) SELECT * FROM x",
        f"SELECT * FROM events UNION SELECT * FROM app.{table}",
    ):
        decision = RULES.check(sql)
        assert decision.code is SqlCode.TABLE_NOT_ALLOWED, sql
    # mentioning a table anywhere else (comments, strings, column names) is harmless
    for sql in (
        f"SELECT * FROM events -- {name}\n",
        f"SELECT '{name}' FROM events",
        f"SELECT {table} FROM events /* FROM {name} */",
    ):
        assert RULES.check(sql).allowed, sql


@given(st.text(max_size=80))
def test_check_never_raises(text: str) -> None:
    decision = RULES.check(text)
    assert decision.allowed == (decision.code is SqlCode.OK)
    assert RULES.is_allowed(text) is decision.allowed
