"""``ProcessorInstance``: one component instance, its lifecycle, its limits and trap recovery.

States::

    INSTANTIATED --initialize ok--> INITIALIZED --shutdown--> SHUT_DOWN --close--> CLOSED
         ^  validate-config, get-info       |  process-*, health-check, validate-config, get-info
         '------------- trap in initialize -'

Calls in the wrong state are refused with :class:`~reference_host.errors.LifecycleError` without
entering the guest.  After any trap the store is discarded, a fresh instance is made and — when
the trap happened after ``initialize`` — re-initialized with the same config; the failing call
raises a :class:`~reference_host.errors.GuestTrap` subclass and the next call works.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from wasmtime import Store, WasmtimeError
from wasmtime.component import Linker, LinkerInstance

from reference_host import interfaces as names
from reference_host.abi import schema
from reference_host.abi.call import GuestFunc, add_host_func, take_host_exception
from reference_host.capabilities.base import Capability, HostContext
from reference_host.engine import HostEngine, LoadedComponent
from reference_host.errors import (
    GuestTrap,
    LifecycleError,
    MemoryLimitError,
    MissingProcessorExportError,
    OutputLimitError,
    ProcessorErrorResult,
    UngrantedImportError,
    UnknownImportError,
    WasiImportError,
    WitDriftError,
)
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.limits import (
    REMEDIES,
    CallBudget,
    CallMeasurement,
    ResourceLimits,
    classify_trap,
    trap_reason,
)
from reference_host.types import Err, Event, HealthStatus, Ok, ProcessorInfo


class State(enum.Enum):
    """Lifecycle states of a :class:`ProcessorInstance`."""

    INSTANTIATED = "instantiated"
    INITIALIZED = "initialized"
    SHUT_DOWN = "shut down"
    CLOSED = "closed"


_ALLOWED: dict[str, frozenset[State]] = {
    "validate-config": frozenset({State.INSTANTIATED, State.INITIALIZED}),
    "get-info": frozenset({State.INSTANTIATED, State.INITIALIZED}),
    "initialize": frozenset({State.INSTANTIATED}),
    "process-event": frozenset({State.INITIALIZED}),
    "process-batch": frozenset({State.INITIALIZED}),
    "health-check": frozenset({State.INITIALIZED}),
    "shutdown": frozenset({State.INSTANTIATED, State.INITIALIZED}),
}

_HINTS = {
    State.INSTANTIATED: "call initialize(config) first",
    State.INITIALIZED: "the instance is already initialized; make a new instance to change config",
    State.SHUT_DOWN: "the instance was shut down; create a new ProcessorInstance",
    State.CLOSED: "the instance was closed; create a new ProcessorInstance",
}


def check_contract(report: ComponentReport) -> None:
    """Raise when the component does not export our processor interface with our types."""
    if not report.processor_export:
        raise MissingProcessorExportError(
            f"the component does not export {names.PROCESSOR} (it exports: "
            f"{', '.join(report.exports) or 'nothing'}); build it for one of the worlds "
            f"{', '.join(names.WORLDS)} of wit/flowctl.wit"
        )
    missing = [f for f, v in report.functions.items() if v == "missing"]
    if missing:
        raise MissingProcessorExportError(
            f"{names.PROCESSOR} lacks {', '.join(missing)}; implement every processor function"
        )
    if report.drift:
        raise WitDriftError(
            "the component was built from a WIT that differs from obsrvr:flowctl@1.0.0: "
            + "; ".join(report.drift)
            + ". Rebuild it against this project's wit/flowctl.wit."
        )


def _link_refusals(linker: LinkerInstance, interface: str) -> None:
    """Define every function of an ungranted capability as a trap naming the grant to add."""
    short = names.short(interface)
    key = names.GRANT_KEYS[interface]

    def refuse(*_args: Any) -> Any:
        raise PermissionError(f"{interface} is not granted ({key} grants it)")

    for sig in schema.INTERFACES[short].values():
        add_host_func(linker, sig, refuse, qualname=f"{short}.{sig.name}")


class ProcessorInstance:
    """A running processor component with explicit lifecycle, limits and trap recovery."""

    def __init__(
        self,
        host: HostEngine,
        loaded: LoadedComponent,
        *,
        limits: ResourceLimits | None = None,
        capabilities: Iterable[Capability] = (),
        unknown_imports: str = "refuse",
        allow_wasi: bool = False,
        component_id: str = "",
        context: HostContext | None = None,
        report: ComponentReport | None = None,
    ) -> None:
        self.host = host
        self.loaded = loaded
        self.limits = limits or ResourceLimits()
        self.component_id = component_id or loaded.path.stem
        self.report = report or inspect_component(host.engine, loaded.component)
        check_contract(self.report)
        self.context = context or HostContext(self.component_id)
        self.budget = self.context.budget = CallBudget(self.limits)
        self._caps = {c.interface: c for c in capabilities}
        self._allow_wasi = allow_wasi
        self._linker = self._build_linker(unknown_imports)
        self.measurements: list[CallMeasurement] = []
        self.recycles = 0
        self._config: str | None = None
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._funcs: dict[str, GuestFunc] = {}
        self.state = State.INSTANTIATED
        host.ticker.acquire()
        try:
            self._instantiate()
        except BaseException:
            host.ticker.release()
            raise

    # ------------------------------------------------------------------ setup

    def _build_linker(self, unknown_imports: str) -> Linker:
        if unknown_imports not in ("refuse", "trap"):
            raise ValueError("unknown_imports must be 'refuse' or 'trap'")
        ungranted = [n for n in self.report.flowctl_imports if n not in self._caps]
        wasi = [] if self._allow_wasi else list(self.report.wasi_imports)
        other = list(self.report.other_imports)
        if unknown_imports == "refuse":
            listing = ", ".join(i.name for i in self.report.imports) or "nothing"
            if ungranted:
                grants = "; ".join(f"{n} ← {names.GRANT_KEYS[n]}" for n in ungranted)
                raise UngrantedImportError(
                    f"the component imports {listing}; the policy does not grant: {grants}. "
                    "Grant them in the policy, or load with unknown_imports='trap' to make "
                    "ungranted imports trap when called."
                )
            if wasi:
                raise WasiImportError(
                    f"the component imports WASI ({', '.join(wasi)}), which the policy does not "
                    "grant (capabilities.wasi: true). Sandboxed processors should not need WASI: "
                    "build with `componentize-py --stub-wasi` or `jco componentize -d ...`."
                )
            if other:
                raise UnknownImportError(
                    f"the component imports {', '.join(other)}, which no flowctl host provides; "
                    "remove those imports (the processor may import only obsrvr:flowctl/*)."
                )
        linker = Linker(self.host.engine)
        if self._allow_wasi and self.report.wasi_imports:
            linker.add_wasip2()
        with linker.root() as root:
            for name in self.report.flowctl_imports:
                cap = self._caps.get(name)
                if cap is not None:
                    with root.add_instance(name) as li:
                        cap.link(li, self.context)
                elif unknown_imports == "trap":
                    with root.add_instance(name) as li:
                        _link_refusals(li, name)
        if unknown_imports == "trap" and (other or wasi):
            # wasmtime matches names exactly here, so this would also shadow a semver-compatible
            # granted WASI with traps; it is only needed for imports no one provides
            linker.define_unknown_imports_as_traps(self.loaded.component)
        return linker

    def _instantiate(self) -> None:
        store = Store(self.host.engine)
        store.set_limits(memory_size=self.limits.memory_bytes)
        if self._allow_wasi and self.report.wasi_imports:
            from wasmtime import WasiConfig

            store.set_wasi(WasiConfig())
        self.budget.arm(store, "instantiate")
        try:
            inst = self._linker.instantiate(store, self.loaded.component)
        except WasmtimeError as exc:
            msg = str(exc)
            kind = classify_trap(msg)
            if "memory" in msg.lower() and "limit" in msg.lower():
                kind = MemoryLimitError
            raise kind(
                f"instantiating {self.component_id} failed: {trap_reason(msg)}; {REMEDIES[kind]}",
                function="instantiate",
                trap_message=msg,
            ) from None
        iface = inst.get_export_index(store, names.PROCESSOR)
        funcs = {}
        for fname, sig in schema.INTERFACES["processor"].items():
            idx = inst.get_export_index(store, fname, iface)
            func = inst.get_func(store, idx) if idx is not None else None
            if func is None:  # inspect() already proved it exists; defensive
                raise MissingProcessorExportError(f"{names.PROCESSOR}#{fname} is not a function")
            funcs[fname] = GuestFunc(func, sig)
        self._store = store
        self._funcs = funcs

    def _recycle(self) -> bool:
        """Discard the store, make a fresh instance, re-initialize it; True on success."""
        self.recycles += 1
        self._store = None
        self._funcs = {}
        self._reset_capabilities()
        self._instantiate()
        if self.state is State.INITIALIZED and self._config is not None:
            try:
                out = self._raw_call("initialize", self._config)
            except WasmtimeError:
                out = Err(None)
            if isinstance(out, Err):
                self.state = State.INSTANTIATED
                return False
        return True

    def _reset_capabilities(self) -> None:
        """Let capabilities drop per-instance state (e.g. roll back open transactions)."""
        for cap in self._caps.values():
            reset = getattr(cap, "reset", None)
            if reset is not None:
                reset()

    # ------------------------------------------------------------------ calls

    def _check_state(self, function: str) -> None:
        if self.state not in _ALLOWED[function]:
            raise LifecycleError(
                f"{function} is not allowed while the instance is {self.state.value}: "
                f"{_HINTS[self.state]}"
            )

    def _raw_call(self, function: str, *args: Any, events: int = 1) -> Any:
        store = self._store
        assert store is not None
        self.budget.arm(store, function, events)
        return self._funcs[function](store._context(), *args)

    def _call(self, function: str, *args: Any, events_in: int = 0, checked: bool = True) -> Any:
        with self._lock:
            if checked or self.state is State.CLOSED:
                self._check_state(function)
            store = self._store
            assert store is not None
            start = time.perf_counter()
            try:
                out = self._raw_call(function, *args, events=events_in)
            except WasmtimeError as exc:
                duration = time.perf_counter() - start
                fuel = self.budget.fuel_used(store)
                trap, cause = self._trap_error(function, exc, duration, fuel, events_in)
                raise trap from cause
            duration = time.perf_counter() - start
            outcome = "err" if isinstance(out, Err) else "ok"
            value = getattr(out, "value", None) if isinstance(out, Ok) else None
            n_out = len(value) if isinstance(value, list) else 0
            self.measurements.append(
                CallMeasurement(
                    function, duration, self.budget.fuel_used(store), events_in, n_out, outcome
                )
            )
            return out

    def _trap_error(
        self, function: str, exc: WasmtimeError, duration: float, fuel: int | None, n: int
    ) -> tuple[GuestTrap, BaseException | None]:
        """Record the trap, recycle the instance, and build the typed error (and its cause)."""
        msg = str(exc)
        host_exc = take_host_exception()
        kind = classify_trap(msg)
        self.measurements.append(
            CallMeasurement(function, duration, fuel, n, 0, f"trap:{kind.__name__}")
        )
        was_initialized = self.state is State.INITIALIZED
        if function == "shutdown":
            self.state = State.SHUT_DOWN
        recycled = False
        if self.state is not State.SHUT_DOWN:
            try:
                recycled = self._recycle()
            except GuestTrap:
                self.state = State.INSTANTIATED
        first = trap_reason(msg)
        detail = (
            f"; host function {host_exc[0]} raised {host_exc[1]!r}"
            if host_exc and "host function" not in first
            else ""
        )
        after = (
            " The instance was recycled"
            + (" and re-initialized with the same config." if was_initialized and recycled else ".")
            if recycled
            else (" The instance could not be re-initialized." if was_initialized else "")
        )
        trap = kind(
            f"{function} trapped in {self.component_id}: {first}{detail}. {REMEDIES[kind]}.{after}",
            function=function,
            trap_message=msg,
            recycled=recycled,
        )
        return trap, (host_exc[1] if host_exc else None)

    @staticmethod
    def _unwrap(function: str, out: Any) -> Any:
        if isinstance(out, Err):
            raise ProcessorErrorResult(out.error, function=function)
        return out.value

    def call_unchecked(self, function: str, *args: Any) -> Any:
        """Call an export *without* the lifecycle checks (for conformance probes only).

        The reference host never lets ``process-event`` reach a guest before ``initialize``;
        a conformance suite must see what the guest itself answers then.  Limits, trap
        recovery and measurements apply as for every call; the result is returned as lifted
        (``Ok``/``Err`` for ``result`` types), not unwrapped.
        """
        events = len(args[0]) if function == "process-batch" else int(function == "process-event")
        return self._call(function, *args, events_in=events, checked=False)

    # ------------------------------------------------------------------ the seven functions

    def get_info(self) -> ProcessorInfo:
        """Call ``get-info``."""
        info: ProcessorInfo = self._call("get-info")
        return info

    def validate_config(self, config: str) -> None:
        """Call ``validate-config``; raise :class:`ProcessorErrorResult` on ``err``."""
        self._unwrap("validate-config", self._call("validate-config", config))

    def initialize(self, config: str) -> None:
        """Call ``initialize``; on success the instance is INITIALIZED."""
        self._unwrap("initialize", self._call("initialize", config))
        with self._lock:
            self._config = config
            self.state = State.INITIALIZED

    def process_event(self, event: Event) -> list[Event]:
        """Call ``process-event``."""
        out: list[Event] = self._unwrap(
            "process-event", self._call("process-event", event, events_in=1)
        )
        self._check_output("process-event", out)
        return out

    def process_batch(self, events: Sequence[Event]) -> list[Event]:
        """Call ``process-batch`` in chunks of at most ``batch_size`` events.

        On ``err`` or a trap in a chunk, the exception carries ``processed`` (outputs of the
        chunks before it) and ``failed_offset`` (index of the failing chunk's first event).
        """
        size = self.limits.batch_size
        outputs: list[Event] = []
        for start in range(0, len(events), size):
            chunk = list(events[start : start + size])
            try:
                out: list[Event] = self._unwrap(
                    "process-batch", self._call("process-batch", chunk, events_in=len(chunk))
                )
            except (ProcessorErrorResult, GuestTrap) as exc:
                exc.processed = outputs
                exc.failed_offset = start
                exc.failed_count = len(chunk)
                raise
            self._check_output("process-batch", out)
            outputs.extend(out)
        return outputs

    def health_check(self) -> HealthStatus:
        """Call ``health-check``."""
        status: HealthStatus = self._unwrap("health-check", self._call("health-check"))
        return status

    def shutdown(self) -> None:
        """Call ``shutdown``; the instance is SHUT_DOWN afterwards, even if it trapped."""
        self._call("shutdown")
        self.state = State.SHUT_DOWN

    def _check_output(self, function: str, out: list[Event]) -> None:
        if len(out) > self.limits.max_output_events:
            raise OutputLimitError(
                f"{function} returned {len(out)} events, more than max_output_events="
                f"{self.limits.max_output_events}",
                function=function,
            )

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Drop the store and release the epoch ticker (idempotent)."""
        with self._lock:
            if self.state is State.CLOSED:
                return
            self.state = State.CLOSED
            self._store = None
            self._funcs = {}
            self.host.ticker.release()
            for cap in self._caps.values():
                cap.close()

    def __enter__(self) -> ProcessorInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
