"""The capability-proxy test guest passes every capability call through unchanged.

``capability-proxy`` exports ``call-<interface>-<function>`` for each of the 29 functions of the
six capability interfaces, with the imported function's signature, and forwards its arguments to
the import and the import's result back.  Only stock wasmtime-py is used (no reference_host): the
host side is a ``Linker`` whose functions are Python lambdas recording their arguments and
returning a canned reply, so a failure here is a broken guest, not a broken host.

Stock wasmtime-py cannot lower ``err`` into ``result<option<string>, kv-error>`` (every value is
an instance of ``object``, the class of the option's ``none`` case, so it is always taken as
``ok``): ``call-key-value-get`` is checked with ``ok`` values only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wasmtime import Config, Engine, Store, WasmtimeError
from wasmtime.component import Component, FuncType, Linker, Record, Variant

from tests.guests import build as guests
from tests.guests.build import GUESTS, build_guest, build_reference, compose_wat

NAME = "capability-proxy"

#: The six capability interfaces and the short names used in the export names.
INTERFACES: dict[str, str] = {
    "obsrvr:flowctl/http-client@1.0.0": "http-client",
    "obsrvr:flowctl/database@1.0.0": "database",
    "obsrvr:flowctl/key-value@1.0.0": "key-value",
    "obsrvr:flowctl/logging@1.0.0": "logging",
    "obsrvr:flowctl/metrics@1.0.0": "metrics",
    "obsrvr:flowctl/config@1.0.0": "config",
}

#: The functions of each interface, as written in wit/flowctl.wit (29 in all).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "http-client": ("request", "is-url-allowed"),
    "database": (
        "query",
        "execute",
        "begin-transaction",
        "commit-transaction",
        "rollback-transaction",
        "is-query-allowed",
    ),
    "key-value": ("get", "set", "delete", "exists", "list-keys", "increment", "expire"),
    "logging": ("log", "log-structured", "set-log-level"),
    "metrics": ("record-counter", "record-gauge", "record-histogram", "record-timer"),
    "config": (
        "get-string",
        "get-int",
        "get-float",
        "get-bool",
        "get-json",
        "has-key",
        "list-keys",
    ),
}

#: export name -> (interface, function) it forwards to.
EXPORTS: dict[str, tuple[str, str]] = {
    f"call-{short}-{function}": (interface, function)
    for interface, short in INTERFACES.items()
    for function in FUNCTIONS[short]
}


# ------------------------------------------------------------------------------------------
# helpers


def rec(**fields: Any) -> Any:
    """A wasmtime Record: keyword `some_field` is attribute `some-field`."""
    r = Record()
    for key, value in fields.items():
        setattr(r, key.replace("_", "-"), value)
    return r


def same(a: Any, b: Any) -> bool:
    """Strict structural equality: same classes (True is not 1), same record fields both ways,
    floats bit-for-bit up to NaN payloads (-0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Record):
        return vars(a).keys() == vars(b).keys() and all(
            same(value, getattr(b, key)) for key, value in vars(a).items()
        )
    if isinstance(a, Variant):
        return a.tag == b.tag and same(a.payload, b.payload)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def request(body: str | None = '{"a": 1}', headers: list[tuple[str, str]] | None = None) -> Any:
    return rec(
        method="POST",
        url="https://api.example.com/v1/ü?q=1",
        headers=[("content-type", "application/json"), ("x-empty", "")]
        if headers is None
        else headers,
        body=body,
        timeout_ms=2**32 - 1,
    )


def tag(key: str, value: str) -> Any:
    return rec(key=key, value=value)


#: export -> [(arguments, what the host import returns = what the export must return)].
CASES: dict[str, list[tuple[tuple[Any, ...], Any]]] = {
    "call-http-client-request": [
        ((request(),), rec(status_code=201, headers=[("x", "y")], body="créé ✓")),
        ((request(None, []),), rec(status_code=0, headers=[], body="")),
        ((request(""),), Variant("server-error", 503)),
        ((request(),), Variant("client-error", 404)),
        ((request(),), Variant("timeout")),
        ((request(),), Variant("network-error", "connection refused")),
        ((request(),), Variant("forbidden", "not in allow-list")),
    ],
    "call-http-client-is-url-allowed": [
        (("https://example.com",), True),
        (("http://169.254.169.254/",), False),
    ],
    "call-database-query": [
        (
            ("SELECT * FROM t WHERE a = $1 AND b = $2", ["1", "x y ü"]),
            rec(rows=[["1", "a"], [], ["", "ü"]], columns=["id", "name"], rows_affected=2**64 - 1),
        ),
        (("SELECT 1", []), rec(rows=[], columns=[], rows_affected=0)),
        (("SELEC", ["p"]), Variant("query-failed", "syntax error")),
        (("SELECT pg_sleep(9)", []), Variant("timeout")),
    ],
    "call-database-execute": [
        (("INSERT INTO t VALUES ($1)", ["a"]), rec(rows=[], columns=[], rows_affected=3)),
        (("INSERT INTO t VALUES ($1)", ["a"]), Variant("constraint-violation", "pk")),
    ],
    "call-database-begin-transaction": [
        ((), "tx-1"),
        ((), ""),
        ((), Variant("connection-failed", "down")),
    ],
    "call-database-commit-transaction": [
        (("tx-1",), None),
        (("tx-1",), Variant("unknown-error", "?")),
    ],
    "call-database-rollback-transaction": [
        (("tx-2",), None),
        (("",), Variant("permission-denied", "no")),
    ],
    "call-database-is-query-allowed": [
        (("SELECT 1",), True),
        (("DROP TABLE t",), False),
    ],
    # ok values only (see the module docstring)
    "call-key-value-get": [
        (("k",), "v"),
        (("k",), None),
        (("",), ""),
        (("ü",), "x" * 5000),
    ],
    "call-key-value-set": [
        (("k", "v", None), None),
        (("k", "v", 3600), Variant("storage-full")),
        (("ü", "x" * 1000, 2**32 - 1), Variant("invalid-key", "ü")),
        (("k", "", 0), None),
    ],
    "call-key-value-delete": [
        (("k",), None),
        (("k",), Variant("key-not-found", "k")),
    ],
    "call-key-value-exists": [
        (("k",), True),
        (("k",), False),
        (("k",), Variant("timeout")),
    ],
    "call-key-value-list-keys": [
        (("pre:", None), ["pre:a", "pre:b"]),
        (("pre:", 0), []),
        (("", 10), Variant("permission-denied", "no")),
    ],
    "call-key-value-increment": [
        (("c", -5), -(2**63)),
        (("c", 2**63 - 1), 2**63 - 1),
        (("c", -(2**63)), 0),
        (("c", 0), Variant("unknown-error", "overflow")),
    ],
    "call-key-value-expire": [
        (("k", 0), None),
        (("k", 2**32 - 1), Variant("key-not-found", "k")),
    ],
    "call-logging-log": [
        ((level, f"message at {level} ✓"), None)
        for level in ("trace", "debug", "info", "warn", "error")
    ],
    "call-logging-log-structured": [
        (("warn", "m", [("a", "1"), ("b", "ü"), ("", "")]), None),
        (("error", "", []), None),
    ],
    "call-logging-set-log-level": [
        (("trace",), None),
        (("error",), None),
    ],
    "call-metrics-record-counter": [
        (("requests", 1.0, [tag("route", "/x"), tag("method", "GET")]), None),
        (("requests", -0.0, []), None),
        (("requests", math.inf, [tag("", "")]), None),
    ],
    "call-metrics-record-gauge": [
        (("queue", 1e-300, [tag("q", "a")]), None),
        (("queue", math.nan, []), None),
    ],
    "call-metrics-record-histogram": [
        (("latency", 0.1, [tag("p", "99"), tag("u", "ms")]), None),
        (("latency", -math.inf, []), None),
    ],
    "call-metrics-record-timer": [
        (("t", 2**64 - 1, []), None),
        (("t", 0, [tag("k", "v")]), None),
    ],
    "call-config-get-string": [
        (("k",), "v"),
        (("k",), Variant("key-not-found", "k")),
    ],
    "call-config-get-int": [
        (("n",), -(2**63)),
        (("n",), 2**63 - 1),
        (("n",), Variant("invalid-type", "not an int")),
    ],
    "call-config-get-float": [
        (("f",), 3.25),
        (("f",), -math.inf),
        (("f",), Variant("key-not-found", "f")),
    ],
    "call-config-get-bool": [
        (("b",), True),
        (("b",), False),
        (("b",), Variant("invalid-type", "b")),
    ],
    "call-config-get-json": [
        (("j",), '{"a": [1, 2], "ü": null}'),
        (("j",), Variant("unknown-error", "e")),
    ],
    "call-config-has-key": [
        (("k",), True),
        (("",), False),
    ],
    "call-config-list-keys": [
        ((), []),
        ((), ["a", "b", "ü"]),
    ],
}


class Host:
    """The import side: records every call as (export-style key, args), returns a set reply."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.replies: dict[str, Any] = {}

    def record(self, key: str, args: tuple[Any, ...]) -> Any:
        self.calls.append((key, args))
        return self.replies.get(key)

    def linker(self, engine: Engine, skip: str | None = None) -> Linker:
        linker = Linker(engine)
        with linker.root() as root:
            for interface, short in INTERFACES.items():
                if interface == skip:
                    continue
                with root.add_instance(interface) as instance:
                    for function in FUNCTIONS[short]:
                        key = f"call-{short}-{function}"
                        instance.add_func(
                            function, lambda store, *args, key=key: self.record(key, args)
                        )
        return linker


Proxy = Callable[..., Any]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Config())


@pytest.fixture(scope="module")
def component(engine: Engine) -> Component:
    return Component.from_file(engine, build_guest(NAME))


@pytest.fixture(scope="module")
def host() -> Host:
    return Host()


@pytest.fixture(scope="module")
def linker(engine: Engine, host: Host) -> Linker:
    return host.linker(engine)


def instantiate(
    engine: Engine, component: Component, linker: Linker, store: Store | None = None
) -> Proxy:
    store = store or Store(engine)
    instance = linker.instantiate(store, component)

    def call(export: str, *args: Any) -> Any:
        index = instance.get_export_index(store, export)
        assert index is not None, export
        func = instance.get_func(store, index)
        assert func is not None, export
        return func(store, *args)

    return call


@pytest.fixture
def proxy(engine: Engine, component: Component, linker: Linker, host: Host) -> Iterator[Proxy]:
    host.calls.clear()
    host.replies.clear()
    yield instantiate(engine, component, linker)
    host.calls.clear()
    host.replies.clear()


def functions(instance_type: Any, engine: Engine) -> dict[str, FuncType]:
    return {
        name: ext.ty
        for name, ext in instance_type.exports(engine).items()
        if isinstance(ext.ty, FuncType)
    }


# ------------------------------------------------------------------------------------------
# spec and types


def test_tables_cover_the_capability_interfaces() -> None:
    assert sum(len(fs) for fs in FUNCTIONS.values()) == 29
    assert len(EXPORTS) == 29
    assert {i: frozenset(FUNCTIONS[s]) for i, s in INTERFACES.items()} == dict(
        guests.CAPABILITY_FUNCTIONS
    )
    assert set(CASES) == set(EXPORTS)
    assert all(CASES.values())


def test_spec() -> None:
    spec = GUESTS[NAME]
    assert spec.name == NAME
    assert spec.world == "obsrvr:flowctl-test/capability-proxy@1.0.0"
    assert spec.fragments == ("_runtime", NAME)
    assert not spec.is_processor
    assert spec.exports == frozenset(EXPORTS)
    assert len(spec.exports) == 29
    assert set(spec.imports) == set(INTERFACES)
    for interface, short in INTERFACES.items():
        assert spec.imports[interface] == frozenset(FUNCTIONS[short]), interface
    assert spec.description.strip()


def test_core_module_imports_and_exports() -> None:
    wat = compose_wat(GUESTS[NAME])
    assert wat.count("(import ") == 29
    for export, (interface, function) in EXPORTS.items():
        assert f'(import "{interface}" "{function}"' in wat, export
        assert wat.count(f'(export "{export}")') == 1, export
        assert wat.count(f'(export "cabi_post_{export}")') == 1, export
    assert "$heap-reset" in wat


def test_component_types_match_the_imports_and_wit(engine: Engine, component: Component) -> None:
    ctype = component.type
    imports = ctype.imports(engine)
    exports = ctype.exports(engine)
    assert set(imports) == set(INTERFACES)
    assert set(exports) == set(EXPORTS)
    assert all(isinstance(ext.ty, FuncType) for ext in exports.values())
    reference = Component.from_file(engine, build_reference("flowctl-processor-full"))
    ref_imports = reference.type.imports(engine)
    for export, (interface, function) in EXPORTS.items():
        imported = functions(imports[interface].ty, engine)
        assert set(imported) == set(FUNCTIONS[INTERFACES[interface]]), interface
        ref = functions(ref_imports[interface].ty, engine)[function]
        got = exports[export].ty
        assert isinstance(got, FuncType), export
        # same parameter names and types, same result type as the imported function
        assert got.params == imported[function].params, export
        assert got.result == imported[function].result, export
        assert (got.params, got.result) == (ref.params, ref.result), export


@pytest.mark.parametrize("missing", sorted(INTERFACES))
def test_every_interface_is_required(engine: Engine, component: Component, missing: str) -> None:
    with pytest.raises(WasmtimeError, match=missing.split("@")[0]):
        Host().linker(engine, skip=missing).instantiate(Store(engine), component)


# ------------------------------------------------------------------------------------------
# behaviour


def test_same_is_strict() -> None:
    assert same(rec(a=1, b=[("x", 1.0)]), rec(a=1, b=[("x", 1.0)]))
    assert not same(rec(a=1), rec(a=1, b=2))
    assert not same(rec(a=1, b=2), rec(a=1))
    assert not same(True, 1)
    assert not same(0.0, -0.0)
    assert same(math.nan, math.nan)
    assert not same(Variant("a", "x"), Variant("a", "y"))
    assert not same(None, Variant("timeout"))
    assert not same(("a",), ["a"])


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_pass_through(proxy: Proxy, host: Host, export: str) -> None:
    for args, reply in CASES[export]:
        host.calls.clear()
        host.replies[export] = reply
        result = proxy(export, *args)
        assert len(host.calls) == 1, (export, host.calls)
        key, received = host.calls[0]
        assert key == export, f"{export} called the import of {key}"
        assert same(received, args), (export, received, args)
        assert same(result, reply), (export, result, reply)


def test_calls_in_a_row_keep_their_results_apart(proxy: Proxy, host: Host) -> None:
    host.replies["call-config-get-string"] = "first"
    host.replies["call-database-query"] = rec(rows=[["r"]], columns=["c"], rows_affected=1)
    host.replies["call-key-value-increment"] = -1
    for _ in range(3):
        assert proxy("call-config-get-string", "a") == "first"
        out = proxy("call-database-query", "SELECT c", [])
        assert same(out, host.replies["call-database-query"])
        assert proxy("call-key-value-increment", "n", 1) == -1
        assert proxy("call-logging-set-log-level", "info") is None
    assert [key for key, _ in host.calls] == [
        "call-config-get-string",
        "call-database-query",
        "call-key-value-increment",
        "call-logging-set-log-level",
    ] * 3


def test_host_exception_is_not_swallowed(engine: Engine, component: Component) -> None:
    class Boom(Exception):
        pass

    host = Host()

    def fail(key: str, args: tuple[Any, ...]) -> Any:
        raise Boom(key)

    host.record = fail  # type: ignore[method-assign]
    call = instantiate(engine, component, host.linker(engine))
    with pytest.raises(Boom, match="call-config-get-int"):  # re-raised by stock wasmtime-py
        call("call-config-get-int", "k")


BIG = 1 << 20

#: export -> (arguments, reply): about 2-3 MiB go through the guest's heap per call.
BIG_CALLS: dict[str, tuple[tuple[Any, ...], Any]] = {
    # no result: the post-return function takes no parameters
    "call-logging-log": (("info", "m" * BIG), None),
    # one flat result (bool)
    "call-http-client-is-url-allowed": (("u" * BIG,), True),
    # results through memory, allocated by the host (cabi_realloc) during the import call
    "call-config-get-json": (("k" * BIG,), "j" * BIG),
    "call-database-query": (
        ("q", ["p" * (BIG // 2)] * 2),
        rec(rows=[["r" * (BIG // 2)] * 2], columns=["c"], rows_affected=1),
    ),
}


@pytest.mark.parametrize("export", sorted(BIG_CALLS))
def test_post_return_resets_the_heap(engine: Engine, component: Component, export: str) -> None:
    args, reply = BIG_CALLS[export]
    host = Host()
    host.replies[export] = reply
    store = Store(engine)
    store.set_limits(memory_size=4 << 20)
    call = instantiate(engine, component, host.linker(engine), store)
    for _ in range(8):  # only fits in 4 MiB if each post-return resets the heap
        assert same(call(export, *args), reply)
    assert len(host.calls) == 8
