"""The account-balance sample (JavaScript, componentize-js) on *stock* wasmtime-py.

The sample (``sample_components/account_balance/``) targets world ``flowctl-processor-full`` and
uses all six capabilities.  Here it is built with ``sample_components/build_js.py`` and driven by
the stock host of ``tests/stock_host.py`` (:class:`AccountBalanceHost`), whose capabilities are
small in-Python fakes:

* logging, metrics: recorded;  config: a dict;
* database: one ``balances`` table as a dict ``{(account, asset): Decimal}`` with snapshot-based
  transactions; it accepts only the two SQL texts of the sample's contract (``UPSERT``/``SELECT``
  in ``tests/oracles/account_balance.py``) and answers anything else with ``invalid-query``;
  every call is recorded;
* key-value: a dict ``{key: (value, ttl)}``;
* http-client: a canned answer (or a canned error) and an allow-list.

The expected balances are the oracle's (``tests/oracles/account_balance.py``).

Everything that builds or runs the component is marked ``slow``: npm ci (first time only, ~20 s),
the build (~10-15 s, skipped when the inputs digest matches) and the compile (~10 s) happen once
per module.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reference_host.rules import SqlRules
from sample_components import build_js
from tests import stock_host
from tests.fixture_files import FIXTURES, read_jsonl
from tests.oracles.account_balance import (
    SELECT,
    SOURCE,
    UPSERT,
    asset_key,
    config_text,
    expected_balances,
    pg_text,
    transfers,
)
from tests.stock_host import (
    CONFIG,
    DATABASE,
    HTTP,
    KEY_VALUE,
    LOGGING,
    METRICS,
    PRICE_URL,
    PROCESSOR,
    AccountBalanceHost,
    record,
    variant,
)
from tests.stock_json import from_stock

SAMPLE = "account_balance"
SIX = {LOGGING, METRICS, CONFIG, DATABASE, KEY_VALUE, HTTP}

# fixtures (tests/stock_host.py): the sample built and compiled once, fresh instances per test
wasm = stock_host.sample_wasm(SAMPLE)
engine = stock_host.engine
component = stock_host.component
host = stock_host.account_balance_host


def test_fixture_shapes() -> None:
    events = transfers()
    assert len(events) >= 50
    assert len({e["id"] for e in events}) == len(events)
    assert all(list(e["data"]) == ["token-transfer"] for e in events)
    assert all(e["event-type"] == "token-transfer" for e in events)
    kinds = {e["data"]["token-transfer"]["asset"]["asset-type"] for e in events}
    assert kinds == {"native", "credit-alphanum4", "credit-alphanum12"}
    amounts = {e["data"]["token-transfer"]["amount"] for e in events}
    assert {"0", "25", "1e3", "0.0000001"} <= amounts  # zero, integer, exponent, dust
    cfg = json.loads(config_text())
    assert cfg == {"table": "balances", "cache_ttl_seconds": 60, "price_url": None}


def initialized(
    host: Callable[[], AccountBalanceHost], text: str | None = None
) -> AccountBalanceHost:
    h = host()
    assert h.initialize(config_text() if text is None else text) == ("ok", None)
    return h


def bad_transfer(base: dict[str, Any], id_: str, **changes: Any) -> dict[str, Any]:
    t = dict(base["data"]["token-transfer"], **changes)
    return dict(base, id=id_, data={"token-transfer": t})


# =============================================================================== build and shape


@pytest.mark.slow
def test_imports_exactly_the_six_flowctl_interfaces(
    engine: Any, component: Any, wasm: Path
) -> None:
    imports = set(component.type.imports(engine))
    assert imports == SIX
    assert not [i for i in imports if i.startswith("wasi:")]
    assert set(component.type.exports(engine)) == {PROCESSOR}
    listed = build_js.component_imports(wasm)  # wasm-tools component wit
    if listed is not None:
        assert set(listed) == SIX
    assert wasm.stat().st_size < 20_000_000


@pytest.mark.slow
def test_build_is_skipped_when_inputs_are_unchanged(wasm: Path) -> None:
    again = build_js.build_js_sample(SAMPLE)
    assert not again.built
    assert Path(again.path) == wasm
    stamp = wasm.with_name(wasm.name + ".inputs.sha256").read_text().strip()
    assert stamp == build_js.inputs_digest(SAMPLE)
    assert SAMPLE in build_js.list_js_samples()


def test_missing_node_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    module = build_js
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(module.NodeMissingError, match=r"node and npm not on PATH"):
        module.build_js_sample(SAMPLE)
    assert module.main(["--only", SAMPLE]) == 1


@pytest.mark.slow
def test_get_info(host: Callable[[], AccountBalanceHost]) -> None:
    import jsonschema

    info = from_stock(host().call("get-info"))
    schema = json.loads(info.pop("configuration-schema"))
    assert info == {
        "name": "Account Balance Processor",
        "version": "1.0.0",
        "author": "flowctl conformance team",
        "description": info["description"],
        "supported-event-types": ["token-transfer"],
        "output-event-types": ["account-updated"],
        "capabilities-required": [
            "logging",
            "metrics",
            "config",
            "database",
            "key-value",
            "http-client",
        ],
    }
    assert "balance" in info["description"]
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    assert validator.is_valid(json.loads(config_text()))
    assert validator.is_valid({"price_url": PRICE_URL, "table": "ledger.balances"})
    assert not validator.is_valid({"table": "Balances; DROP TABLE x"})
    assert not validator.is_valid({"cache_ttl_seconds": 0})
    assert not validator.is_valid({"extra": 1})


CONFIG_CASES = [
    # (id, config text, accepted?)
    ("fixture", config_text(), True),
    ("empty-object", "{}", True),
    ("empty-text", "", False),  # not JSON: refused, as its published schema says
    ("schema-table", json.dumps({"table": "ledger.balances_v2"}), True),
    ("price-url", json.dumps({"price_url": PRICE_URL}), True),
    ("ttl-max", json.dumps({"cache_ttl_seconds": 4294967295}), True),
    ("not-json", "{table: balances}", False),
    ("array", "[]", False),
    ("unknown-key", json.dumps({"tabel": "balances"}), False),
    ("table-injection", json.dumps({"table": "balances; DROP TABLE balances"}), False),
    ("table-upper", json.dumps({"table": "Balances"}), False),
    ("table-quoted", json.dumps({"table": '"balances"'}), False),
    ("table-number", json.dumps({"table": 1}), False),
    ("ttl-zero", json.dumps({"cache_ttl_seconds": 0}), False),
    ("ttl-float", json.dumps({"cache_ttl_seconds": 1.5}), False),
    ("ttl-string", json.dumps({"cache_ttl_seconds": "60"}), False),
    ("ttl-too-big", json.dumps({"cache_ttl_seconds": 4294967296}), False),
    ("url-scheme", json.dumps({"price_url": "ftp://x/y"}), False),
    ("url-space", json.dumps({"price_url": "https://a b/"}), False),
    ("url-number", json.dumps({"price_url": 5}), False),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "accepted"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_validate_config_and_initialize(
    host: Callable[[], AccountBalanceHost], text: str, accepted: bool
) -> None:
    h = host()
    h.http.allowed.add(PRICE_URL)
    validated, init = h.validate(text), h.initialize(text)
    if accepted:
        assert validated == init == ("ok", None)
    else:
        assert validated[0] == init[0] == "err"
        assert list(validated[1]) == list(init[1]) == ["configuration-error"]
        assert h.process_event(transfers()[0]) == (
            "err",
            {"configuration-error": "not initialized"},
        )
    assert h.db.statements() == []  # validation and initialize never run SQL


@pytest.mark.slow
def test_initialize_asks_the_host_about_its_statements_and_url(
    host: Callable[[], AccountBalanceHost],
) -> None:
    h = host()
    assert h.initialize(config_text()) == ("ok", None)
    assert [c[1] for c in h.db.calls] == [UPSERT, SELECT]  # is-query-allowed, nothing else
    assert h.logs[-1][0] == "info"
    assert h.logs[-1][2]["table"] == "balances"

    refused = host()
    refused.db.allowed = False
    kind, err = refused.initialize(config_text())
    assert kind == "err"
    assert list(err) == ["configuration-error"]
    assert "does not allow" in err["configuration-error"]

    url_refused = host()
    url_refused.http.allowed = set()
    kind, err = url_refused.initialize(json.dumps({"price_url": PRICE_URL}))
    assert (kind, list(err)) == ("err", ["configuration-error"])
    assert PRICE_URL in err["configuration-error"]

    other = host()
    assert other.initialize(json.dumps({"table": "ledger.balances_v2"})) == ("ok", None)
    assert other.db.calls[0][1] == UPSERT.replace("INTO balances", "INTO ledger.balances_v2")
    assert other.db.calls[1][1] == SELECT.replace("FROM balances", "FROM ledger.balances_v2")


# =============================================================================== processing


def check_sql_is_parameterised(calls: list[tuple[str, str, list[str]]]) -> None:
    """Only the two contract texts; values only in params (strings), never in the SQL text."""
    assert {sql for _, sql, _ in calls} <= {UPSERT, SELECT}
    for fn, sql, params in calls:
        assert fn == ("execute" if sql == UPSERT else "query")
        assert all(isinstance(p, str) for p in params)
        assert len(params) == max(int(n) for n in re.findall(r"\$(\d+)", sql))
        for p in params:
            if len(p) >= 4:
                assert p not in sql, (p, sql)


@pytest.mark.slow
def test_sql_texts_pass_the_reference_sql_rules() -> None:
    rules = SqlRules(["balances"], ["SELECT", "INSERT", "UPDATE"])
    assert rules.check(UPSERT, "execute", ["G1", "native", "-1.5"]).allowed
    assert rules.check(SELECT, "query", ["G1", "native"]).allowed
    # the upsert's ON CONFLICT DO UPDATE needs UPDATE in allowed_operations (README says so)
    assert not SqlRules(["balances"], ["SELECT", "INSERT"]).check(UPSERT).allowed


@pytest.mark.slow
def test_process_event_issues_the_contract_sql_and_cache_writes(
    host: Callable[[], AccountBalanceHost],
) -> None:
    h = initialized(host)
    events = transfers()
    running: dict[tuple[str, str], Decimal] = {}
    for event in events:
        h.db.calls.clear()
        h.kv.calls.clear()
        kind, out = h.process_event(event)
        assert kind == "ok", (event["id"], out)
        t = event["data"]["token-transfer"]
        key = asset_key(t["asset"])
        amount = t["amount"]
        running[(t["from"], key)] = running.get((t["from"], key), Decimal(0)) - Decimal(amount)
        running[(t["to"], key)] = running.get((t["to"], key), Decimal(0)) + Decimal(amount)
        accounts = [t["from"]] if t["from"] == t["to"] else [t["from"], t["to"]]
        assert h.db.calls == [
            ("begin-transaction", None, None),
            ("execute", UPSERT, [t["from"], key, f"-{amount}"]),
            ("execute", UPSERT, [t["to"], key, amount]),
            *[("query", SELECT, [a, key]) for a in accounts],
            ("commit-transaction", h.db.calls[-1][1], None),
        ]
        check_sql_is_parameterised(h.db.statements())
        balances = {a: pg_text(running[(a, key)]) for a in accounts}
        assert h.kv.calls == [("set", f"balance:{a}:{key}", balances[a], 60) for a in accounts]
        assert len(out) == 1
        (ev,) = out
        assert ev["id"] == f"{event['id']}-balances"
        assert ev["timestamp"] == event["timestamp"]
        assert ev["source-component"] == SOURCE
        assert ev["event-type"] == "account-updated"
        assert list(ev["data"]) == ["generic"]
        assert json.loads(ev["data"]["generic"]) == {
            "transfer": {
                "from": t["from"],
                "to": t["to"],
                "asset": key,
                "amount": amount,
                "transaction_hash": t["transaction-hash"],
                "operation_index": t["operation-index"],
            },
            "balances": [{"account": a, "asset": key, "balance": balances[a]} for a in accounts],
        }
        assert ev["metadata"] == [
            *event["metadata"],
            ["processor", SOURCE],
            ["processor_version", "1.0.0"],
            ["original_event_id", event["id"]],
        ]
    assert h.db.rows == expected_balances(events)
    assert {k: v for k, (v, _) in h.kv.data.items()} == {
        f"balance:{a}:{asset}": pg_text(v) for (a, asset), v in h.db.rows.items()
    }
    assert h.counter_total("transfers_applied") == len(events)
    assert h.http.requests == []  # no price_url configured
    health = h.health()
    assert health["status"] == "healthy"
    assert ["events_applied", str(len(events))] in health["details"]


@pytest.mark.slow
def test_process_batch_is_one_transaction_with_the_same_outputs(
    host: Callable[[], AccountBalanceHost],
) -> None:
    events = transfers()
    single = initialized(host)
    want = []
    for e in events:
        kind, out = single.process_event(e)
        assert kind == "ok"
        want.extend(out)
    batch = initialized(host)
    batch.db.calls.clear()
    kind, got = batch.process_batch(events)
    assert kind == "ok", got
    assert got == want
    fns = [c[0] for c in batch.db.calls]
    assert fns.count("begin-transaction") == fns.count("commit-transaction") == 1
    assert fns[0] == "begin-transaction"
    assert fns[-1] == "commit-transaction"
    assert fns.count("execute") == 2 * len(events)
    check_sql_is_parameterised(batch.db.statements())
    assert batch.db.rows == single.db.rows == expected_balances(events)
    # the cache is written once per distinct balance, after the commit, with the final value
    sets = [c for c in batch.kv.calls if c[0] == "set"]
    assert len(sets) == len({c[1] for c in sets}) == len(batch.db.rows)
    assert batch.kv.data == single.kv.data
    assert batch.counter_total("transfers_applied") == len(events)


@pytest.mark.slow
def test_other_event_kinds_are_skipped(host: Callable[[], AccountBalanceHost]) -> None:
    h = initialized(host)
    others = [
        e
        for e in read_jsonl(FIXTURES / "events" / "non_transaction.jsonl")
        if "token-transfer" not in e["data"]
    ]
    others.append(read_jsonl(FIXTURES / "events" / "ttp_transactions.jsonl")[0])
    assert others
    h.db.calls.clear()
    for e in others:
        assert h.process_event(e) == ("ok", [])
    assert h.process_batch(others) == ("ok", [])
    assert h.db.calls == []
    assert h.kv.calls == []
    assert h.counter_total("events_skipped") == 2 * len(others)
    # a batch mixing both kinds yields outputs only for the transfers, in order
    mixed = [others[0], transfers()[0], others[1], transfers()[1]]
    kind, out = h.process_batch(mixed)
    assert kind == "ok"
    assert [e["id"] for e in out] == [f"{transfers()[i]['id']}-balances" for i in (0, 1)]


def malformed() -> list[dict[str, Any]]:
    base = transfers()[1]  # a credit-alphanum4 transfer
    assert base["data"]["token-transfer"]["asset"]["asset-type"] == "credit-alphanum4"
    native = {"asset-type": "native", "asset-code": None, "asset-issuer": None}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("amount-negative", {"amount": "-5"}),
        ("amount-word", {"amount": "ten"}),
        ("amount-comma", {"amount": "1,000.00"}),
        ("amount-nan", {"amount": "NaN"}),
        ("amount-infinity", {"amount": "Infinity"}),
        ("amount-empty", {"amount": ""}),
        ("amount-space", {"amount": " 10"}),
        ("amount-hex", {"amount": "0x10"}),
        ("amount-huge-exponent", {"amount": "1e99999"}),
        ("amount-sql", {"amount": "1); DROP TABLE balances; --"}),
        ("from-empty", {"from": ""}),
        ("to-colon", {"to": "GABC:native"}),
        ("to-quote", {"to": "G'; DROP TABLE balances; --"}),
        ("from-long", {"from": "G" * 129}),
        (
            "asset-no-issuer",
            {
                "asset": {
                    "asset-type": "credit-alphanum4",
                    "asset-code": "USDC",
                    "asset-issuer": None,
                }
            },
        ),
        (
            "asset-no-code",
            {
                "asset": {
                    "asset-type": "credit-alphanum12",
                    "asset-code": None,
                    "asset-issuer": "G1",
                }
            },
        ),
        (
            "asset-code-colon",
            {
                "asset": {
                    "asset-type": "credit-alphanum4",
                    "asset-code": "A:B",
                    "asset-issuer": "G1",
                }
            },
        ),
        (
            "asset-pool-shares",
            {
                "asset": {
                    "asset-type": "liquidity-pool-shares",
                    "asset-code": "abc",
                    "asset-issuer": None,
                }
            },
        ),
        ("amount-unicode-digits", {"amount": "１０", "asset": native}),
    ]
    return [bad_transfer(base, f"bad-{name}", **changes) for name, changes in cases]


@pytest.mark.slow
def test_malformed_transfers_are_invalid_events_and_touch_nothing(
    host: Callable[[], AccountBalanceHost],
) -> None:
    h = initialized(host)
    h.db.calls.clear()
    for event in malformed():
        kind, err = h.process_event(event)  # a trap would raise here
        assert kind == "err", event["id"]
        assert list(err) == ["invalid-event"], (event["id"], err)
        assert event["id"] in err["invalid-event"]
    # one bad event fails the whole batch before any capability call (the host replays per event)
    good = transfers()[:3]
    kind, err = h.process_batch([*good, malformed()[0], *good])
    assert (kind, list(err)) == ("err", ["invalid-event"])
    assert h.db.calls == []
    assert h.kv.calls == []
    assert h.db.rows == {}
    assert h.health()["status"] == "healthy"  # bad input is not a dependency problem


DB_FAILURES = [
    # (id, function, call number, db-error, expected processor-error case, rollback expected)
    ("second-execute", "execute", 2, ("query-failed", "boom"), "dependency-error", True),
    (
        "first-execute-constraint",
        "execute",
        1,
        ("constraint-violation", "c"),
        "dependency-error",
        True,
    ),
    ("query", "query", 1, ("unknown-error", "x"), "dependency-error", True),
    ("execute-timeout", "execute", 1, ("timeout", None), "timeout", True),
    ("execute-denied", "execute", 1, ("permission-denied", "no"), "permission-denied", True),
    (
        "begin-connection",
        "begin-transaction",
        1,
        ("connection-failed", "down"),
        "dependency-error",
        False,
    ),
    (
        "commit",
        "commit-transaction",
        1,
        ("query-failed", "serialization"),
        "dependency-error",
        True,
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fn", "nth", "error", "case", "rollback"),
    [c[1:] for c in DB_FAILURES],
    ids=[c[0] for c in DB_FAILURES],
)
def test_database_errors_roll_back_and_are_typed(
    host: Callable[[], AccountBalanceHost],
    fn: str,
    nth: int,
    error: tuple[str, str | None],
    case: str,
    rollback: bool,
) -> None:
    h = initialized(host)
    events = transfers()[:4]
    assert h.process_event(events[0])[0] == "ok"
    before = dict(h.db.rows)
    cached = dict(h.kv.data)
    h.db.calls.clear()
    h.kv.calls.clear()
    h.db._counts.clear()
    h.db.fail = lambda f, n: variant(*error) if (f, n) == (fn, nth) else None
    kind, err = h.process_batch(events[1:])  # a trap would raise here
    assert kind == "err"
    if case == "timeout":
        assert err == "timeout"
    else:
        assert list(err) == [case]
        assert fn in err[case]
        assert error[0] in err[case]
    fns = [c[0] for c in h.db.calls]
    assert ("rollback-transaction" in fns) is rollback
    if rollback:
        assert fns[-1] == "rollback-transaction"
        assert h.db.calls[-1][1] == "tx-2"
    if fn != "commit-transaction":
        assert "commit-transaction" not in fns
    assert h.db.rows == before  # all or nothing
    assert h.kv.calls == []  # nothing cached from a failed call
    assert h.kv.data == cached
    assert h.counter_total("db_errors") == 1
    assert any(level == "error" for level, _, _ in h.logs)
    health = h.health()
    assert health["status"] == "degraded"
    assert "database" in health["message"]
    # the instance is still usable; the next successful call makes it healthy again
    h.db.fail = None
    assert h.process_event(events[1])[0] == "ok"
    assert h.health()["status"] == "healthy"


@pytest.mark.slow
def test_cache_errors_are_logged_and_processing_continues(
    host: Callable[[], AccountBalanceHost],
) -> None:
    h = initialized(host)
    h.kv.set_error = variant("storage-full")
    event = transfers()[0]
    kind, out = h.process_event(event)
    assert kind == "ok"
    assert len(out) == 1
    assert h.db.rows == expected_balances([event])
    assert [c[0] for c in h.kv.calls] == ["set", "set"]
    assert h.counter_total("cache_errors") == 2
    warn = [entry for entry in h.logs if entry[0] == "warn"]
    assert len(warn) == 1
    assert "storage-full" in warn[0][2]["error"]
    h.kv.set_error = variant("permission-denied", "namespace")
    assert h.process_batch(transfers()[:5])[0] == "ok"


@pytest.mark.slow
def test_price_lookup_once_per_call_into_metadata(host: Callable[[], AccountBalanceHost]) -> None:
    h = initialized(host, json.dumps({"price_url": PRICE_URL, "cache_ttl_seconds": 5}))
    events = transfers()[:6]
    kind, out = h.process_batch(events)
    assert kind == "ok"
    assert len(h.http.requests) == 1
    req = h.http.requests[0]
    assert (req["method"], req["url"], req["body"]) == ("GET", PRICE_URL, None)
    assert 0 < req["timeout-ms"] <= 30_000
    for ev in out:
        meta = dict(map(tuple, ev["metadata"]))
        assert meta["price"] == '{"usd":"0.12"}'
        assert meta["price_status"] == "200"
        assert meta["price_url"] == PRICE_URL
    assert {c[3] for c in h.kv.calls if c[0] == "set"} == {5}
    # a call without transfers does not look the price up
    h.process_event(read_jsonl(FIXTURES / "events" / "non_transaction.jsonl")[0])
    assert len(h.http.requests) == 1
    # errors and non-2xx answers: logged, no price metadata, processing goes on
    for answer in (
        variant("timeout"),
        variant("forbidden", "not in allowed_domains"),
        record(status_code=503, headers=[], body="down"),
    ):
        h.http.answer = answer
        kind, out = h.process_event(events[0])
        assert kind == "ok"
        assert "price" not in dict(map(tuple, out[0]["metadata"]))
        assert h.logs[-1][0] == "warn"
    assert len(h.http.requests) == 4
    assert h.counter_total("price_lookups") == 4


@pytest.mark.slow
def test_lifecycle_and_health(host: Callable[[], AccountBalanceHost]) -> None:
    h = host()
    assert h.health()["status"] == "unknown"
    assert h.process_event(transfers()[0]) == ("err", {"configuration-error": "not initialized"})
    assert h.process_batch(transfers()[:2]) == ("err", {"configuration-error": "not initialized"})
    assert h.initialize(config_text()) == ("ok", None)
    health = h.health()
    assert health["status"] == "healthy"
    assert health["message"] is None
    details = dict(map(tuple, health["details"]))
    assert details["table"] == "balances"
    assert details["cache_ttl_seconds"] == "60"
    assert details["host_config_keys"] == "1"  # config capability: list-keys
    event = transfers()[5]
    assert h.process_event(event)[0] == "ok"
    assert h.health()["timestamp"] == event["timestamp"]
    h.call("shutdown")
    assert h.health()["status"] == "unknown"
    assert h.process_event(event) == ("err", {"configuration-error": "not initialized"})
    # a failed re-initialize keeps the instance uninitialized, never traps
    assert h.initialize("{")[0] == "err"
    assert h.health()["status"] == "unknown"
