"""The account-balance sample (JavaScript, componentize-js) on *stock* wasmtime-py.

The sample (``sample_components/account_balance/``) targets world ``flowctl-processor-full`` and
uses all six capabilities.  Here it is built with ``sample_components/build_js.py`` and driven by
a stock ``wasmtime.component.Linker`` whose functions are small in-Python fakes:

* logging, metrics: recorded;  config: a dict;
* database: one ``balances`` table as a dict ``{(account, asset): Decimal}`` with snapshot-based
  transactions; it accepts only the two SQL texts of the sample's contract (``UPSERT``/``SELECT``
  below) and answers anything else with ``invalid-query``; every call is recorded;
* key-value: a dict ``{key: (value, ttl)}``;
* http-client: a canned answer (or a canned error) and an allow-list.

Stock wasmtime-py cannot return ``err`` for ``result<option<string>, kv-error>`` (``get``); the
sample never calls ``get`` and these fakes never return an error from it.

Everything that builds or runs the component is marked ``slow``: npm ci (first time only, ~20 s),
the build (~10-15 s, skipped when the inputs digest matches) and the compile (~10 s) happen once
per module.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.stock_json import from_stock, to_stock

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
SAMPLE = "account_balance"

PROCESSOR = "obsrvr:flowctl/processor@1.0.0"
LOGGING = "obsrvr:flowctl/logging@1.0.0"
METRICS = "obsrvr:flowctl/metrics@1.0.0"
CONFIG = "obsrvr:flowctl/config@1.0.0"
DATABASE = "obsrvr:flowctl/database@1.0.0"
KEY_VALUE = "obsrvr:flowctl/key-value@1.0.0"
HTTP = "obsrvr:flowctl/http-client@1.0.0"
SIX = {LOGGING, METRICS, CONFIG, DATABASE, KEY_VALUE, HTTP}

# The SQL contract (sample_components/account_balance/README.md), for the default table.
UPSERT = (
    "INSERT INTO balances AS b (account, asset, amount) VALUES ($1, $2, $3) "
    "ON CONFLICT (account, asset) DO UPDATE SET amount = b.amount + EXCLUDED.amount"
)
SELECT = "SELECT amount::text FROM balances WHERE account = $1 AND asset = $2"
SOURCE = "account-balance-processor"
PRICE_URL = "https://prices.example.com/v1/xlm"


# =============================================================================== fixtures I/O


def read_jsonl(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def transfers() -> list[dict[str, Any]]:
    return read_jsonl(FIXTURES / "events" / "token_transfers.jsonl")


def config_text() -> str:
    return (FIXTURES / "configs" / "account_balance.json").read_text(encoding="utf-8")


def asset_key(asset: dict[str, Any]) -> str:
    if asset["asset-type"] == "native":
        return "native"
    return f"{asset['asset-code']}:{asset['asset-issuer']}"


def expected_balances(events: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """The oracle: debit ``from``, credit ``to``, exact decimals."""
    bal: dict[tuple[str, str], Decimal] = {}
    for e in events:
        t = e["data"]["token-transfer"]
        key = asset_key(t["asset"])
        amount = Decimal(t["amount"])
        bal[(t["from"], key)] = bal.get((t["from"], key), Decimal(0)) - amount
        bal[(t["to"], key)] = bal.get((t["to"], key), Decimal(0)) + amount
    return bal


def pg_text(d: Decimal) -> str:
    """A NUMERIC's text form, near enough for the fake (no exponent)."""
    return format(d, "f")


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


# =============================================================================== stock values


def result_of(value: Any) -> tuple[str, Any]:
    """A stock ``result<T, processor-error>``: ok is the bare T, err a ``Variant``."""
    from wasmtime.component import Variant

    if isinstance(value, Variant):
        return "err", from_stock(value)
    return "ok", value


def record(**fields: Any) -> Any:
    from wasmtime.component import Record

    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


def variant(tag: str, payload: Any = None) -> Any:
    from wasmtime.component import Variant

    return Variant(tag, payload)


# =============================================================================== fake capabilities


class FakeDatabase:
    """One ``balances`` table; transactions snapshot the table and restore it on rollback."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Decimal] = {}
        self.calls: list[tuple[str, Any, Any]] = []  # (function, sql or tx id, params)
        self.allowed = True  # answer of is-query-allowed
        # fail(function, call_number_of_that_function) -> db-error Variant or None
        self.fail: Callable[[str, int], Any] | None = None
        self._counts: dict[str, int] = {}
        self._snapshot: dict[tuple[str, str], Decimal] | None = None
        self._tx = 0

    def _injected(self, fn: str) -> Any:
        self._counts[fn] = self._counts.get(fn, 0) + 1
        return self.fail(fn, self._counts[fn]) if self.fail else None

    def functions(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "execute": self.execute,
            "begin-transaction": self.begin,
            "commit-transaction": self.commit,
            "rollback-transaction": self.rollback,
            "is-query-allowed": self.is_query_allowed,
        }

    def is_query_allowed(self, _store: Any, sql: str) -> bool:
        self.calls.append(("is-query-allowed", sql, None))
        return self.allowed

    def begin(self, _store: Any) -> Any:
        self.calls.append(("begin-transaction", None, None))
        if (err := self._injected("begin-transaction")) is not None:
            return err
        if self._snapshot is not None:
            return variant("query-failed", "a transaction is already open")
        self._tx += 1
        self._snapshot = dict(self.rows)
        return f"tx-{self._tx}"

    def commit(self, _store: Any, tx: str) -> Any:
        self.calls.append(("commit-transaction", tx, None))
        if (err := self._injected("commit-transaction")) is not None:
            return err
        if self._snapshot is None or tx != f"tx-{self._tx}":
            return variant("query-failed", f"no open transaction {tx}")
        self._snapshot = None
        return None

    def rollback(self, _store: Any, tx: str) -> Any:
        self.calls.append(("rollback-transaction", tx, None))
        if self._snapshot is None or tx != f"tx-{self._tx}":
            return variant("query-failed", f"no open transaction {tx}")
        self.rows = self._snapshot
        self._snapshot = None
        return None

    def execute(self, _store: Any, sql: str, params: list[str]) -> Any:
        self.calls.append(("execute", sql, list(params)))
        if (err := self._injected("execute")) is not None:
            return err
        if sql != UPSERT or len(params) != 3:
            return variant("invalid-query", f"unexpected statement: {sql}")
        account, asset, amount = params
        key = (account, asset)
        self.rows[key] = self.rows.get(key, Decimal(0)) + Decimal(amount)
        return record(rows=[], columns=[], rows_affected=1)

    def query(self, _store: Any, sql: str, params: list[str]) -> Any:
        self.calls.append(("query", sql, list(params)))
        if (err := self._injected("query")) is not None:
            return err
        if sql != SELECT or len(params) != 2:
            return variant("invalid-query", f"unexpected statement: {sql}")
        key = (params[0], params[1])
        rows = [[pg_text(self.rows[key])]] if key in self.rows else []
        return record(rows=rows, columns=["amount"], rows_affected=len(rows))

    def statements(self) -> list[tuple[str, str, list[str]]]:
        return [c for c in self.calls if c[0] in ("execute", "query")]


class FakeKeyValue:
    def __init__(self) -> None:
        self.data: dict[str, tuple[str, int | None]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.set_error: Any = None  # a kv-error Variant to return from every set

    def functions(self) -> dict[str, Any]:
        def get(_s: Any, key: str) -> Any:
            self.calls.append(("get", key))
            return self.data[key][0] if key in self.data else None

        def set_(_s: Any, key: str, value: str, ttl: int | None) -> Any:
            self.calls.append(("set", key, value, ttl))
            if self.set_error is not None:
                return self.set_error
            self.data[key] = (value, ttl)
            return None

        def delete(_s: Any, key: str) -> Any:
            self.calls.append(("delete", key))
            self.data.pop(key, None)

        def exists(_s: Any, key: str) -> Any:
            self.calls.append(("exists", key))
            return key in self.data

        def list_keys(_s: Any, prefix: str, limit: int | None) -> Any:
            self.calls.append(("list-keys", prefix))
            return sorted(k for k in self.data if k.startswith(prefix))[: limit or None]

        def increment(_s: Any, key: str, delta: int) -> Any:
            self.calls.append(("increment", key, delta))
            value = int(self.data.get(key, ("0", None))[0]) + delta
            self.data[key] = (str(value), None)
            return value

        def expire(_s: Any, key: str, ttl: int) -> Any:
            self.calls.append(("expire", key, ttl))

        return {
            "get": get,
            "set": set_,
            "delete": delete,
            "exists": exists,
            "list-keys": list_keys,
            "increment": increment,
            "expire": expire,
        }


class FakeHttp:
    def __init__(self) -> None:
        self.allowed = {PRICE_URL}
        self.requests: list[dict[str, Any]] = []
        self.answer: Any = record(
            status_code=200, headers=[("content-type", "application/json")], body='{"usd":"0.12"}\n'
        )

    def functions(self) -> dict[str, Any]:
        def request(_s: Any, req: Any) -> Any:
            self.requests.append(from_stock(req))
            return self.answer

        return {"request": request, "is-url-allowed": lambda _s, url: url in self.allowed}


class StockHost:
    """One instance of the sample, linked with recording fakes for all six capabilities."""

    EXPORTS = (
        "process-event",
        "process-batch",
        "initialize",
        "validate-config",
        "shutdown",
        "get-info",
        "health-check",
    )

    def __init__(self, engine: Any, component: Any) -> None:
        from wasmtime import Store
        from wasmtime.component import Linker

        self.config: dict[str, Any] = {"table": "balances"}
        self.logs: list[tuple[str, str, dict[str, str]]] = []
        self.metrics: list[tuple[str, str, float, dict[str, str]]] = []
        self.db = FakeDatabase()
        self.kv = FakeKeyValue()
        self.http = FakeHttp()
        linker = Linker(engine)
        with linker.root() as root:
            with root.add_instance(LOGGING) as li:
                li.add_func("log", lambda _s, level, msg: self.logs.append((level, msg, {})))
                li.add_func(
                    "log-structured",
                    lambda _s, level, msg, fields: self.logs.append((level, msg, dict(fields))),
                )
                li.add_func("set-log-level", lambda _s, _level: None)
            with root.add_instance(METRICS) as mi:
                for kind in ("counter", "gauge", "histogram", "timer"):
                    mi.add_func(f"record-{kind}", self._metric(kind))
            with root.add_instance(CONFIG) as ci:

                def missing(key: str) -> Any:
                    return variant("key-not-found", key)

                for fn in ("get-string", "get-json"):
                    ci.add_func(
                        fn, lambda _s, k: str(self.config[k]) if k in self.config else missing(k)
                    )
                ci.add_func("get-int", lambda _s, k: missing(k))
                ci.add_func("get-float", lambda _s, k: missing(k))
                ci.add_func("get-bool", lambda _s, k: missing(k))
                ci.add_func("has-key", lambda _s, k: k in self.config)
                ci.add_func("list-keys", lambda _s: sorted(self.config))
            for name, fake in ((DATABASE, self.db), (KEY_VALUE, self.kv), (HTTP, self.http)):
                with root.add_instance(name) as inst:
                    for fn, impl in fake.functions().items():
                        inst.add_func(fn, impl)
        self.store = Store(engine)
        instance = linker.instantiate(self.store, component)
        iface = instance.get_export_index(self.store, PROCESSOR)
        assert iface is not None
        self.funcs: dict[str, Any] = {}
        for name in self.EXPORTS:
            index = instance.get_export_index(self.store, name, iface)
            assert index is not None, name
            self.funcs[name] = instance.get_func(self.store, index)
        self.event_type = self.funcs["process-event"].type(self.store).params[0][1]
        self.batch_type = self.funcs["process-batch"].type(self.store).params[0][1]

    def _metric(self, kind: str) -> Any:
        def rec(_store: Any, name: str, value: Any, tags: list[Any]) -> None:
            self.metrics.append((kind, name, float(value), {t.key: t.value for t in tags}))

        return rec

    def call(self, name: str, *args: Any) -> Any:
        return self.funcs[name](self.store, *args)

    def initialize(self, text: str) -> tuple[str, Any]:
        return result_of(self.call("initialize", text))

    def validate(self, text: str) -> tuple[str, Any]:
        return result_of(self.call("validate-config", text))

    def process_event(self, event: dict[str, Any]) -> tuple[str, Any]:
        kind, value = result_of(self.call("process-event", to_stock(self.event_type, event)))
        return kind, (from_stock(value) if kind == "ok" else value)

    def process_batch(self, events: list[dict[str, Any]]) -> tuple[str, Any]:
        kind, value = result_of(self.call("process-batch", to_stock(self.batch_type, events)))
        return kind, (from_stock(value) if kind == "ok" else value)

    def health(self) -> dict[str, Any]:
        kind, value = result_of(self.call("health-check"))
        assert kind == "ok", value
        return from_stock(value)

    def counter_total(self, name: str) -> float:
        return sum(v for kind, n, v, _ in self.metrics if kind == "counter" and n == name)


# ------------------------------------------------------------------ module-scoped build/compile


def _load_build_js() -> Any:
    path = REPO / "sample_components" / "build_js.py"
    spec = importlib.util.spec_from_file_location("_flowctl_sample_build_js", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build_js() -> Any:
    return _load_build_js()


@pytest.fixture(scope="module")
def wasm(build_js: Any) -> Path:
    try:
        result = build_js.build_js_sample(SAMPLE)
    except build_js.NodeMissingError as exc:
        pytest.skip(str(exc))
    return Path(result.path)


@pytest.fixture(scope="module")
def engine() -> Any:
    from wasmtime import Engine

    return Engine()


@pytest.fixture(scope="module")
def component(engine: Any, wasm: Path) -> Any:
    from wasmtime.component import Component

    return Component.from_file(engine, str(wasm))


@pytest.fixture
def host(engine: Any, component: Any) -> Callable[[], StockHost]:
    return lambda: StockHost(engine, component)


def initialized(host: Callable[[], StockHost], text: str | None = None) -> StockHost:
    h = host()
    assert h.initialize(config_text() if text is None else text) == ("ok", None)
    return h


def bad_transfer(base: dict[str, Any], id_: str, **changes: Any) -> dict[str, Any]:
    t = dict(base["data"]["token-transfer"], **changes)
    return dict(base, id=id_, data={"token-transfer": t})


# =============================================================================== build and shape


@pytest.mark.slow
def test_imports_exactly_the_six_flowctl_interfaces(
    engine: Any, component: Any, wasm: Path, build_js: Any
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
def test_build_is_skipped_when_inputs_are_unchanged(build_js: Any, wasm: Path) -> None:
    again = build_js.build_js_sample(SAMPLE)
    assert not again.built
    assert Path(again.path) == wasm
    stamp = wasm.with_name(wasm.name + ".inputs.sha256").read_text().strip()
    assert stamp == build_js.inputs_digest(SAMPLE)
    assert SAMPLE in build_js.list_js_samples()


def test_missing_node_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_build_js()
    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(module.NodeMissingError, match=r"node and npm not on PATH"):
        module.build_js_sample(SAMPLE)
    assert module.main(["--only", SAMPLE]) == 1


@pytest.mark.slow
def test_get_info(host: Callable[[], StockHost]) -> None:
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
    host: Callable[[], StockHost], text: str, accepted: bool
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
    host: Callable[[], StockHost],
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
    rules_mod = pytest.importorskip("reference_host.rules.sql")
    rules = rules_mod.SqlRules(["balances"], ["SELECT", "INSERT", "UPDATE"])
    assert rules.check(UPSERT, "execute", ["G1", "native", "-1.5"]).allowed
    assert rules.check(SELECT, "query", ["G1", "native"]).allowed
    # the upsert's ON CONFLICT DO UPDATE needs UPDATE in allowed_operations (README says so)
    assert not rules_mod.SqlRules(["balances"], ["SELECT", "INSERT"]).check(UPSERT).allowed


@pytest.mark.slow
def test_process_event_issues_the_contract_sql_and_cache_writes(
    host: Callable[[], StockHost],
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
    host: Callable[[], StockHost],
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
def test_other_event_kinds_are_skipped(host: Callable[[], StockHost]) -> None:
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
    cases = [
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
    host: Callable[[], StockHost],
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
    host: Callable[[], StockHost],
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
def test_cache_errors_are_logged_and_processing_continues(host: Callable[[], StockHost]) -> None:
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
def test_price_lookup_once_per_call_into_metadata(host: Callable[[], StockHost]) -> None:
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
def test_lifecycle_and_health(host: Callable[[], StockHost]) -> None:
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
