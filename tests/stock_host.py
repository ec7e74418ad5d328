"""A minimal host for flowctl components on *stock* wasmtime-py, independent of reference_host.

The sample tests drive a component through a ``wasmtime.component.Linker`` whose functions are
small Python fakes defined with ``add_func`` (no WASI: the samples are built without it), so a
failure there is the sample's, not the reference host's:

* logging and metrics: recorded in ``StockHost.logs`` and ``StockHost.metrics``;
* config: the dict ``StockHost.config``, with typed getters (``get-int`` of a string is
  ``invalid-type``, of a missing key ``key-not-found``);
* database, key-value, http-client (the account-balance sample): :class:`FakeDatabase` (one
  ``balances`` table, snapshot transactions, only the two SQL texts of the sample's contract),
  :class:`FakeKeyValue` (a dict) and :class:`FakeHttp` (a canned answer and an allow-list), each
  recording its calls; :class:`AccountBalanceHost` links them.

Values cross in the JSON form of ``tests/stock_json.py``, converted with the component's own
types.  Stock wasmtime-py cannot return ``err`` for ``result<option<string>, kv-error>``
(key-value ``get``); the account-balance sample never calls ``get`` and the fake never fails it.

Fixtures, for a test module to bind under these names (``engine = stock_host.engine``):

``wasm = sample_wasm(name)``
    the sample, built once per module (skipped when its toolchain is missing);
``engine``, ``component``
    a stock ``Engine`` and the compiled ``wasm`` (once per module: ~10 s for the 18 MB TTP);
``host`` / ``account_balance_host``
    factories of fresh instances: ``host(config_text=None)`` -> :class:`StockHost` whose config
    capability holds the parsed config; ``account_balance_host()`` -> :class:`AccountBalanceHost`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.oracles.account_balance import SELECT, UPSERT, pg_text
from tests.stock_json import from_stock, to_stock

PROCESSOR = "obsrvr:flowctl/processor@1.0.0"
LOGGING = "obsrvr:flowctl/logging@1.0.0"
METRICS = "obsrvr:flowctl/metrics@1.0.0"
CONFIG = "obsrvr:flowctl/config@1.0.0"
DATABASE = "obsrvr:flowctl/database@1.0.0"
KEY_VALUE = "obsrvr:flowctl/key-value@1.0.0"
HTTP = "obsrvr:flowctl/http-client@1.0.0"

#: The URL the account-balance tests configure as ``price_url``; :class:`FakeHttp` allows it.
PRICE_URL = "https://prices.example.com/v1/xlm"


# =============================================================================== stock values


def result_of(value: Any) -> tuple[str, Any]:
    """A stock ``result<T, processor-error>``: ok is the bare T, err a ``Variant``."""
    from wasmtime.component import Variant

    if isinstance(value, Variant):
        return "err", from_stock(value)
    return "ok", value


def record(**fields: Any) -> Any:
    """A stock ``Record``: keyword ``some_field`` is field ``some-field``."""
    from wasmtime.component import Record

    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


def variant(tag: str, payload: Any = None) -> Any:
    from wasmtime.component import Variant

    return Variant(tag, payload)


# =============================================================================== the host


class Fake(Protocol):
    """A fake capability: its functions by WIT name, each ``f(store, *args)``."""

    def functions(self) -> dict[str, Callable[..., Any]]: ...


class StockHost:
    """One instance of a component, linked with recording logging/metrics, a dict config and
    the given fakes of other capabilities (by interface name)."""

    EXPORTS = (
        "process-event",
        "process-batch",
        "initialize",
        "validate-config",
        "shutdown",
        "get-info",
        "health-check",
    )

    def __init__(
        self,
        engine: Any,
        component: Any,
        config: dict[str, Any] | None = None,
        fakes: Mapping[str, Fake] | None = None,
    ) -> None:
        from wasmtime import Store
        from wasmtime.component import Linker

        self.config: dict[str, Any] = dict(config or {})
        self.logs: list[tuple[str, str, dict[str, str]]] = []
        self.metrics: list[tuple[str, str, float, dict[str, str]]] = []
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
                ci.add_func("get-string", self._getter(str))
                ci.add_func("get-int", self._getter(int))
                ci.add_func("get-float", self._getter(float))
                ci.add_func("get-bool", self._getter(bool))
                ci.add_func(
                    "get-json",
                    lambda _s, key: (
                        json.dumps(self.config[key]) if key in self.config else self._missing(key)
                    ),
                )
                ci.add_func("has-key", lambda _s, key: key in self.config)
                ci.add_func("list-keys", lambda _s: sorted(self.config))
            for name, fake in (fakes or {}).items():
                with root.add_instance(name) as inst:
                    for fn, impl in fake.functions().items():
                        inst.add_func(fn, impl)
        self.store = Store(engine)
        instance = linker.instantiate(self.store, component)
        iface = instance.get_export_index(self.store, PROCESSOR)
        assert iface is not None, f"the component does not export {PROCESSOR}"
        self.funcs: dict[str, Any] = {}
        for name in self.EXPORTS:
            index = instance.get_export_index(self.store, name, iface)
            assert index is not None, f"{PROCESSOR} has no function {name}"
            self.funcs[name] = instance.get_func(self.store, index)
        self.event_type = self.funcs["process-event"].type(self.store).params[0][1]
        self.batch_type = self.funcs["process-batch"].type(self.store).params[0][1]

    def _metric(self, kind: str) -> Any:
        def rec(_store: Any, name: str, value: Any, tags: list[Any]) -> None:
            self.metrics.append((kind, name, float(value), {t.key: t.value for t in tags}))

        return rec

    @staticmethod
    def _missing(key: str) -> Any:
        return variant("key-not-found", key)

    def _getter(self, kind: type) -> Any:
        def get(_store: Any, key: str) -> Any:
            if key not in self.config:
                return self._missing(key)
            value = self.config[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                return float(value)
            if type(value) is not kind:
                return variant("invalid-type", f"{key} is {type(value).__name__}")
            return value

        return get

    def call(self, name: str, *args: Any) -> Any:
        return self.funcs[name](self.store, *args)

    def initialize(self, config_text: str) -> tuple[str, Any]:
        return result_of(self.call("initialize", config_text))

    def validate(self, config_text: str) -> tuple[str, Any]:
        return result_of(self.call("validate-config", config_text))

    def process_event(self, event: dict[str, Any]) -> tuple[str, Any]:
        kind, value = result_of(self.call("process-event", to_stock(self.event_type, event)))
        return kind, (from_stock(value) if kind == "ok" else value)

    def process_batch(self, events: list[dict[str, Any]]) -> tuple[str, Any]:
        kind, value = result_of(self.call("process-batch", to_stock(self.batch_type, events)))
        return kind, (from_stock(value) if kind == "ok" else value)

    def health(self) -> dict[str, Any]:
        kind, value = result_of(self.call("health-check"))
        assert kind == "ok", value
        health: dict[str, Any] = from_stock(value)
        return health

    def counter_total(self, name: str) -> float:
        return sum(v for kind, n, v, _ in self.metrics if kind == "counter" and n == name)


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


class AccountBalanceHost(StockHost):
    """The account-balance sample's host: all six capabilities, the last three as fakes."""

    def __init__(self, engine: Any, component: Any) -> None:
        self.db = FakeDatabase()
        self.kv = FakeKeyValue()
        self.http = FakeHttp()
        super().__init__(
            engine,
            component,
            {"table": "balances"},
            {DATABASE: self.db, KEY_VALUE: self.kv, HTTP: self.http},
        )


# =============================================================================== fixtures


def build_or_skip(name: str) -> Path:
    """Build sample ``name`` (skipped when its inputs digest matches); skip without its tools."""
    from sample_components import build, buildlib

    try:
        (result,) = build.build_all(only=name)
    except buildlib.ToolMissingError as exc:
        pytest.skip(str(exc))
    return Path(result.path)


def sample_wasm(name: str) -> Any:
    """A module-scoped fixture: the path of sample ``name``, built once."""

    @pytest.fixture(scope="module")
    def wasm() -> Path:
        return build_or_skip(name)

    return wasm


@pytest.fixture(scope="module")
def engine() -> Any:
    from wasmtime import Engine

    return Engine()


@pytest.fixture(scope="module")
def component(engine: Any, wasm: Path) -> Any:
    from wasmtime.component import Component

    return Component.from_file(engine, str(wasm))


@pytest.fixture
def host(engine: Any, component: Any) -> Callable[..., StockHost]:
    """``host(config_text=None)``: a fresh instance whose config capability holds that config."""

    def make(config_text: str | None = None) -> StockHost:
        return StockHost(
            engine, component, json.loads(config_text) if config_text is not None else None
        )

    return make


@pytest.fixture
def account_balance_host(engine: Any, component: Any) -> Callable[[], AccountBalanceHost]:
    """``account_balance_host()``: a fresh instance of the sample with fresh fakes."""
    return lambda: AccountBalanceHost(engine, component)
