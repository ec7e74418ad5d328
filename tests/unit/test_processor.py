"""ProcessorInstance: lifecycle states, limits on every call, typed errors, trap recovery.

Each limit test uses a guest that misbehaves in exactly one way (tests/guests) and fails if the
enforcement it names is removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wasmtime import Config, Engine, Func, Instance, Module, Store, Trap, TrapCode, WasmtimeError

from reference_host import errors, processor, traps
from reference_host import types as t
from reference_host.capabilities.logging import LoggingCapability
from reference_host.engine import HostEngine
from reference_host.limits import ResourceLimits
from reference_host.processor import ProcessorInstance, State
from tests.guests.build import build_guest

EVENT = t.Event("e-1", 7, "src", t.EventType.TRANSACTION, t.Generic("{}"), [("k", "v")])
FUNCS = ["validate-config", "initialize", "process-event", "process-batch", "health-check",
         "get-info", "shutdown"]  # fmt: skip


@pytest.fixture(scope="module")
def host() -> HostEngine:
    return HostEngine()


@pytest.fixture(scope="module")
def fuel_host() -> HostEngine:
    return HostEngine(ResourceLimits(max_fuel=1).engine_config())


@pytest.fixture
def make(host: HostEngine) -> Iterator[Any]:
    made: list[ProcessorInstance] = []

    def factory(name: str, h: HostEngine | None = None, **kw: Any) -> ProcessorInstance:
        hh = h or host
        inst = ProcessorInstance(hh, hh.load(build_guest(name)), **kw)
        made.append(inst)
        return inst

    yield factory
    for inst in made:
        inst.close()


def call(inst: ProcessorInstance, fn: str) -> Any:
    return {
        "validate-config": lambda: inst.validate_config("{}"),
        "initialize": lambda: inst.initialize("{}"),
        "process-event": lambda: inst.process_event(EVENT),
        "process-batch": lambda: inst.process_batch([EVENT]),
        "health-check": inst.health_check,
        "get-info": inst.get_info,
        "shutdown": inst.shutdown,
    }[fn]()


# ------------------------------------------------------------------ lifecycle


def test_happy_lifecycle(make: Any) -> None:
    p = make("echo")
    assert p.state is State.INSTANTIATED
    assert p.get_info().name == "noop"
    p.validate_config("{}")
    p.initialize("{}")
    # mypy keeps `p.state` narrowed to INSTANTIATED across the call that changes it
    assert p.state is State.INITIALIZED  # type: ignore[comparison-overlap]
    assert p.process_event(EVENT) == [EVENT]
    assert p.process_batch([EVENT, EVENT]) == [EVENT, EVENT]
    assert p.health_check().status is t.HealthState.HEALTHY
    p.validate_config("{}")  # allowed whenever instantiated
    p.shutdown()
    assert p.state is State.SHUT_DOWN


@pytest.mark.parametrize("fn", ["process-event", "process-batch", "health-check"])
def test_calls_before_initialize_are_refused_without_entering_the_guest(make: Any, fn: str) -> None:
    # the trap-<fn> guest would trap if entered: a LifecycleError proves the guest was not called
    p = make(f"trap-{fn}")
    with pytest.raises(errors.LifecycleError, match="call initialize"):
        call(p, fn)
    assert p.recycles == 0
    assert p.measurements == []


@pytest.mark.parametrize("fn", FUNCS)
def test_calls_after_shutdown_are_refused(make: Any, fn: str) -> None:
    p = make("noop")
    p.initialize("{}")
    p.shutdown()
    n = len(p.measurements)
    with pytest.raises(errors.LifecycleError, match="shut down"):
        call(p, fn)
    assert len(p.measurements) == n


def test_initialize_twice_is_refused(make: Any) -> None:
    p = make("trap-initialize")
    with pytest.raises(errors.GuestTrap):
        p.initialize("{}")
    assert p.state is State.INSTANTIATED
    q = make("noop")
    q.initialize("{}")
    with pytest.raises(errors.LifecycleError, match="already initialized"):
        q.initialize("{}")


def test_closed_instance_refuses_and_close_is_idempotent(make: Any, host: HostEngine) -> None:
    p = make("noop")
    p.close()
    p.close()
    with pytest.raises(errors.LifecycleError, match="closed"):
        p.get_info()


def test_config_error_is_a_typed_result(make: Any) -> None:
    p = make("err-validate")
    with pytest.raises(errors.ProcessorErrorResult) as exc:
        p.validate_config("{}")
    assert exc.value.error == t.ProcessorError("configuration-error", "bad config")
    with pytest.raises(errors.ProcessorErrorResult):
        p.initialize("{}")
    assert p.state is State.INSTANTIATED
    assert p.measurements[-1].outcome == "err"


# ------------------------------------------------------------------ traps and recovery


@pytest.mark.parametrize("fn", FUNCS)
def test_trap_in_each_function_is_typed_and_recovered(make: Any, fn: str) -> None:
    p = make(f"trap-{fn}")
    if fn not in ("validate-config", "initialize", "get-info", "shutdown"):
        p.initialize("{}")
    with pytest.raises(errors.GuestTrap) as exc:
        call(p, fn)
    assert type(exc.value) is errors.GuestTrap
    assert "unreachable" in str(exc.value)
    assert exc.value.function == fn
    if fn == "shutdown":
        assert p.state is State.SHUT_DOWN
        return
    assert exc.value.recycled
    assert p.recycles == 1
    # the next call (to a function that does not trap) works, on a fresh instance in the same
    # lifecycle state
    if p.state is State.INITIALIZED:
        other = "process-batch" if fn != "process-batch" else "process-event"
        assert call(p, other) == []
    else:
        assert p.state is State.INSTANTIATED
        call(p, "get-info" if fn != "get-info" else "validate-config")


def test_after_recycle_the_instance_is_reinitialized_with_the_same_config(make: Any) -> None:
    p = make("trap-process-event")
    p.initialize('{"a": 1}')
    for _ in range(3):
        with pytest.raises(errors.GuestTrap):
            p.process_event(EVENT)
    assert p.recycles == 3
    assert p.state is State.INITIALIZED
    inits = [m for m in p.measurements if m.function == "initialize"]
    assert len(inits) == 1  # re-initialization is internal, not a measured user call
    assert p.process_batch([EVENT]) == []


def test_unknown_import_in_trap_mode_loads_and_traps_when_called(make: Any) -> None:
    with pytest.raises(errors.UngrantedImportError, match=r"capabilities\.http\.enabled: true"):
        make("imports-http")
    p = make("imports-http", unknown_imports="trap")
    p.initialize("{}")
    with pytest.raises(errors.GuestTrap) as exc:
        p.process_event(EVENT)
    assert exc.value.recycled
    assert p.health_check().status is t.HealthState.HEALTHY


def test_trap_mode_names_the_missing_grant_and_keeps_granted_wasi(make: Any) -> None:
    p = make("imports-http", unknown_imports="trap")
    p.initialize("{}")
    with pytest.raises(errors.GuestTrap, match=r"not granted \(capabilities\.http\.enabled: true"):
        p.process_event(EVENT)
    q = make("imports-wasi", unknown_imports="trap", allow_wasi=True)
    q.initialize("{}")
    assert q.process_event(EVENT) == []  # granted WASI is linked, not shadowed by traps


def test_wasi_import_is_refused_by_default(make: Any) -> None:
    with pytest.raises(errors.WasiImportError, match="wasi:cli/environment"):
        make("imports-wasi")
    p = make("imports-wasi", allow_wasi=True)
    p.initialize("{}")
    assert p.process_event(EVENT) == []


def test_unknown_non_flowctl_import_is_refused(make: Any) -> None:
    with pytest.raises(errors.UnknownImportError, match="obsrvr:flowctl-test/clock@1.0.0"):
        make("imports-other")
    p = make("imports-other", unknown_imports="trap")  # loads; the import traps when called
    p.initialize("{}")
    with pytest.raises(errors.GuestTrap):
        p.process_event(EVENT)


def test_drifted_component_is_refused_naming_the_type(make: Any) -> None:
    with pytest.raises(errors.WitDriftError, match="record `event`: field.*extra"):
        make("noop-drift")


def test_all_capabilities_ungranted_are_listed_with_their_keys(make: Any) -> None:
    with pytest.raises(errors.UngrantedImportError) as exc:
        make("imports-all")
    msg = str(exc.value)
    for key in ("capabilities.logging", "capabilities.metrics", "capabilities.config",
                "capabilities.http.enabled", "capabilities.database.enabled",
                "capabilities.key_value.enabled"):  # fmt: skip
        assert key in msg


def test_granted_capability_is_linked(make: Any) -> None:
    log = LoggingCapability("slow")
    p = make("slow-host", capabilities=[log], limits=ResourceLimits(execution_timeout_s=0.1))
    p.initialize("{}")
    with pytest.raises(errors.CallTimeoutError):
        p.process_event(EVENT)
    assert log.records and log.records[0].message == "slow-host"


def test_exception_in_a_host_function_is_a_trap_not_a_crash(make: Any) -> None:
    class Broken(LoggingCapability):
        def _emit(self, level: Any, message: str, fields: Any) -> None:
            raise RuntimeError("backend exploded")

    p = make("slow-host", capabilities=[Broken("b")])
    p.initialize("{}")
    with pytest.raises(errors.GuestTrap, match=r"logging\.log raised RuntimeError") as exc:
        p.process_event(EVENT)
    assert isinstance(exc.value.__cause__, RuntimeError)
    assert exc.value.recycled
    assert p.health_check().status is t.HealthState.HEALTHY


# ------------------------------------------------------------------ trap kinds (reference_host.traps)


def test_a_component_trap_reaches_the_host_without_a_trap_code(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wasmtime-py 50.0.1: component calls raise WasmtimeError, never wasmtime.Trap, so there is
    # no TrapCode to read and the host classifies by message.  When this fails, wasmtime gives
    # codes for component traps too: classify by code (reference_host.traps) and drop wording.
    seen: list[BaseException | str] = []

    def spy(error: BaseException | str) -> type[errors.GuestTrap]:
        seen.append(error)
        return traps.classify_trap(error)

    monkeypatch.setattr(processor, "classify_trap", spy)
    p = make("trap-get-info")
    with pytest.raises(errors.GuestTrap, match="unreachable"):
        p.get_info()
    (error,) = seen
    assert isinstance(error, WasmtimeError)
    assert not isinstance(error, Trap)
    assert not hasattr(error, "trap_code")


def _core_trap(wat: str, *, fuel: int | None = None, epoch: bool = False) -> Trap:
    config = Config()
    config.consume_fuel = fuel is not None
    config.epoch_interruption = epoch
    engine = Engine(config)
    store = Store(engine)
    if fuel is not None:
        store.set_fuel(fuel)
    if epoch:
        store.set_epoch_deadline(1)
        engine.increment_epoch()
        engine.increment_epoch()
    run = Instance(store, Module(engine, wat), []).exports(store)["run"]
    assert isinstance(run, Func)
    with pytest.raises(Trap) as info:
        run(store)
    return info.value


LOOP = '(module (func (export "run") (loop $l (br $l))))'
RECURSE = '(module (func $r (export "run") (call $r)))'
UNREACHABLE = '(module (func (export "run") unreachable))'


@pytest.mark.parametrize(
    ("wat", "kw", "code", "kind"),
    [
        (LOOP, {"fuel": 1000}, TrapCode.OUT_OF_FUEL, errors.OutOfFuelError),
        (LOOP, {"epoch": True}, TrapCode.INTERRUPT, errors.CallTimeoutError),
        (RECURSE, {}, TrapCode.STACK_OVERFLOW, errors.StackExhaustedError),
        (UNREACHABLE, {}, TrapCode.UNREACHABLE, errors.GuestTrap),
    ],
)
def test_a_trap_with_a_code_is_classified_by_its_code(
    wat: str, kw: dict[str, Any], code: TrapCode, kind: type[errors.GuestTrap]
) -> None:
    trap = _core_trap(wat, **kw)
    assert trap.trap_code is code
    assert traps.classify_trap(trap) is kind


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("wasm trap: all fuel consumed by WebAssembly", errors.OutOfFuelError),
        ("wasm trap: interrupt", errors.CallTimeoutError),
        ("wasm trap: call stack exhausted", errors.StackExhaustedError),
        ("memory minimum size of 300 pages exceeds memory limits", errors.MemoryLimitError),
        ("wasm trap: wasm `unreachable` instruction executed", errors.GuestTrap),
    ],
)
def test_an_error_without_a_code_is_classified_by_its_message(
    message: str, kind: type[errors.GuestTrap]
) -> None:
    assert traps.classify_trap(message) is kind
    assert (
        traps.classify_trap(WasmtimeError(f"error while executing\n\nCaused by:\n    {message}"))
        is kind
    )
    assert traps.classify_trap(Trap(message)) is kind  # made by hand: a trap without a code


# ------------------------------------------------------------------ limits


def test_fuel_limit(make: Any, fuel_host: HostEngine) -> None:
    p = make("spin", fuel_host, limits=ResourceLimits(max_fuel=2_000_000))
    p.initialize("{}")
    with pytest.raises(errors.OutOfFuelError, match="max_fuel"):
        p.process_event(EVENT)
    assert p.measurements[-1].fuel_used == 2_000_000
    assert p.measurements[-1].outcome == "trap:OutOfFuelError"


def test_fuel_budget_is_per_event_for_batches(make: Any, fuel_host: HostEngine) -> None:
    p = make("spin", fuel_host, limits=ResourceLimits(max_fuel=1_000_000))
    p.initialize("{}")
    with pytest.raises(errors.OutOfFuelError):
        p.process_batch([EVENT] * 3)
    assert p.measurements[-1].fuel_used == 3_000_000


def test_fuel_is_rearmed_before_every_call(make: Any, fuel_host: HostEngine) -> None:
    p = make("echo", fuel_host, limits=ResourceLimits(max_fuel=50_000))
    p.initialize("{}")
    for _ in range(50):  # each call is cheap; without re-arming, 50 calls would exhaust 50k fuel
        p.process_event(EVENT)
    used = [m.fuel_used for m in p.measurements if m.function == "process-event"]
    assert all(u is not None and 0 < u < 50_000 for u in used)
    assert len(set(used)) == 1  # deterministic: the same work costs the same fuel


def test_timeout_limit(make: Any) -> None:
    p = make("spin", limits=ResourceLimits(execution_timeout_s=0.1))
    p.initialize("{}")
    start = time.perf_counter()
    with pytest.raises(errors.CallTimeoutError, match="execution_timeout"):
        p.process_event(EVENT)
    assert time.perf_counter() - start < 2.0


def test_every_one_of_100_calls_into_a_spinning_guest_is_stopped(make: Any) -> None:
    p = make("spin", limits=ResourceLimits(execution_timeout_s=0.02))
    p.initialize("{}")
    durations = []
    for _ in range(100):
        start = time.perf_counter()
        with pytest.raises(errors.CallTimeoutError):
            p.process_batch([EVENT])
        durations.append(time.perf_counter() - start)
    assert p.recycles == 100
    assert max(durations) < 1.0  # each stopped near its 20 ms budget (noisy machine: generous)


def test_time_inside_host_calls_counts(make: Any) -> None:
    log = LoggingCapability("slow", forward=False, max_records_per_call=10**9,
                            max_bytes_per_call=10**12)  # fmt: skip
    p = make("slow-host", capabilities=[log], limits=ResourceLimits(execution_timeout_s=0.1))
    p.initialize("{}")
    start = time.perf_counter()
    with pytest.raises(errors.CallTimeoutError):
        p.process_event(EVENT)
    assert time.perf_counter() - start < 2.0
    assert len(log.records) > 10


def test_stack_limit(make: Any) -> None:
    p = make("recurse")
    p.initialize("{}")
    with pytest.raises(errors.StackExhaustedError, match="recursed too deeply"):
        p.process_event(EVENT)
    assert p.process_batch([EVENT]) == []


@pytest.mark.parametrize("pages", [20, 64])
def test_memory_limit(make: Any, pages: int) -> None:
    p = make("membomb", limits=ResourceLimits(max_memory_pages=pages))
    p.initialize("{}")
    with pytest.raises(errors.ProcessorErrorResult) as exc:
        p.process_batch([EVENT])
    assert exc.value.error == t.ProcessorError("resource-exhausted")
    assert (
        p.health_check().timestamp == pages
    )  # membomb reports memory.size: it stopped at the limit


def test_batch_size_splits_batches(make: Any) -> None:
    p = make("echo", limits=ResourceLimits(batch_size=3))
    p.initialize("{}")
    events = [t.Event(f"e{i}", i, "s", t.EventType.CUSTOM, t.Generic(str(i)), []) for i in range(8)]
    assert p.process_batch(events) == events
    sizes = [m.events_in for m in p.measurements if m.function == "process-batch"]
    assert sizes == [3, 3, 2]


def test_failed_chunk_reports_what_was_processed(make: Any) -> None:
    p = make("trap-process-batch", limits=ResourceLimits(batch_size=2))
    p.initialize("{}")
    with pytest.raises(errors.GuestTrap) as exc:
        p.process_batch([EVENT] * 5)
    assert exc.value.failed_offset == 0
    assert exc.value.processed == []


def test_measurements_are_recorded(make: Any) -> None:
    p = make("echo")
    p.initialize("{}")
    p.process_batch([EVENT] * 4)
    m = p.measurements[-1]
    assert (m.function, m.events_in, m.events_out, m.outcome) == ("process-batch", 4, 4, "ok")
    assert m.duration_s > 0
    assert m.fuel_used is None  # metering off on this engine
    assert m.memory_pages is None


def test_limits_validate() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        ResourceLimits(batch_size=0)
    with pytest.raises(ValueError, match="max_fuel"):
        ResourceLimits(max_fuel=0)
    with pytest.raises(ValueError, match="execution_timeout"):
        ResourceLimits(execution_timeout_s=0)


def test_value_errors_do_not_enter_the_guest(make: Any) -> None:
    p = make("trap-process-event")
    p.initialize("{}")
    bad = t.Event("e", -1, "s", t.EventType.CUSTOM, t.Generic("x"), [])
    with pytest.raises(errors.ValueConversionError, match="u64"):
        p.process_event(bad)
    assert p.recycles == 0


def test_ticker_released_on_close(host: HostEngine, make: Any, tmp_path: Path) -> None:
    own = HostEngine()
    p = ProcessorInstance(own, own.load(build_guest("noop")))
    assert own.ticker.running
    p.close()
    assert not own.ticker.running


def test_capabilities_are_reset_when_the_instance_is_recycled(make: Any) -> None:
    class Tracking(LoggingCapability):
        resets = 0

        def reset(self) -> None:
            type(self).resets += 1

    p = make("trap-process-event", capabilities=[Tracking("t")], unknown_imports="trap")
    p.initialize("{}")
    with pytest.raises(errors.GuestTrap):
        p.process_event(EVENT)
    assert Tracking.resets == 1
