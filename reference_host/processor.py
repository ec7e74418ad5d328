"""``ProcessorInstance``: one component instance, its lifecycle, its limits and trap recovery.

States::

    INSTANTIATED --initialize ok--> INITIALIZED --shutdown--> SHUT_DOWN --close--> CLOSED
         ^  validate-config, get-info       |  process-*, health-check, validate-config, get-info
         '------------- trap in initialize -'

Calls in the wrong state are refused with :class:`~reference_host.errors.LifecycleError` without
entering the guest.  After any trap the store is discarded, a fresh instance is made and — when
the trap happened after ``initialize`` — re-initialized with the same config; the failing call
raises a :class:`~reference_host.errors.GuestTrap` subclass and the next call works.

What happens before the first instance lives next door: the contract check and the linker that
serves (or refuses) the imports in :mod:`reference_host.linking`, the kind of a trap and its
remedy in :mod:`reference_host.traps`.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from wasmtime import Store, WasmtimeError

from reference_host import interfaces as names
from reference_host.abi import schema
from reference_host.abi._wasmtime import store_context
from reference_host.abi.call import GuestFunc, take_host_exception
from reference_host.capabilities.base import Capability, HostContext
from reference_host.engine import HostEngine, LoadedComponent
from reference_host.errors import (
    GuestTrap,
    LifecycleError,
    MemoryLimitError,
    MissingProcessorExportError,
    OutputLimitError,
    ProcessorErrorResult,
)
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.limits import CallBudget, CallMeasurement, ResourceLimits
from reference_host.linking import build_linker, check_contract
from reference_host.traps import REMEDIES, classify_trap, trap_reason
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
        self._linker = build_linker(
            host.engine,
            loaded.component,
            self.report,
            self._caps,
            self.context,
            unknown_imports=unknown_imports,
            allow_wasi=allow_wasi,
        )
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
            kind = classify_trap(exc)
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
        return self._funcs[function](store_context(store), *args)

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
        kind = classify_trap(exc)
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
