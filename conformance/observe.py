"""Every trap a check's run meets is seen: the trap ledger and the observed instance.

The suite's checks call the component through :class:`ObservedInstance`, a thin wrapper of
:class:`reference_host.processor.ProcessorInstance` that writes every trap (and every stop by a
resource limit) into the run's :class:`TrapLedger` with what was being processed, before the
exception reaches the check.  The suite's ``pytest_runtest_call`` hook then fails any check whose
run met a trap it did not fail on itself, whatever the check's own logic concluded: a component
that traps on some input can pass no check that fed it that input.  Instances opened to *provoke*
limit stops (LIM-003's memory search, LIM-005) are opened with ``probing=True`` and leave the
ledger alone; their check judges what it provoked.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.outcomes import LIMIT_ERRORS, first_line
from reference_host import errors
from reference_host import types as t
from reference_host.processor import ProcessorInstance


@dataclass(frozen=True)
class TrapRecord:
    """One trap (or limit stop) seen while a scope (a test or a shared fixture) ran."""

    scope: str
    function: str
    inputs: str  # the input ids (or a summary of the call's argument)
    kind: str  # "trap" | "limit"
    error: str  # exception class name and first line

    def __str__(self) -> str:
        what = "stopped by a resource limit" if self.kind == "limit" else "trapped"
        return f"{self.function}({self.inputs}) {what}: {self.error}"


@dataclass
class TrapLedger:
    """The traps of one process's run, by scope; the suite's hooks set :attr:`scope`."""

    scope: str = ""
    records: list[TrapRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, function: str, inputs: str, exc: BaseException) -> None:
        """Record a trap or a limit stop of the current scope."""
        kind = "limit" if isinstance(exc, LIMIT_ERRORS) else "trap"
        record = TrapRecord(
            self.scope, function, inputs, kind, f"{type(exc).__name__}: {first_line(exc)}"
        )
        with self._lock:
            self.records.append(record)

    def of(self, scopes: set[str]) -> list[TrapRecord]:
        """The records made while one of ``scopes`` ran."""
        with self._lock:
            return [r for r in self.records if r.scope in scopes]


def _inputs(function: str, args: Sequence[Any]) -> str:
    if not args:
        return ""
    arg = args[0]
    if isinstance(arg, t.Event):
        return arg.id
    if isinstance(arg, list) and all(isinstance(e, t.Event) for e in arg):
        ids = [e.id for e in arg]
        shown = ", ".join(ids[:3]) + (f", ... {len(ids)} events" if len(ids) > 3 else "")
        return f"[{shown}]"
    text = repr(arg)
    return text if len(text) <= 80 else text[:77] + "..."


class ObservedInstance:
    """A :class:`ProcessorInstance` whose traps go into a :class:`TrapLedger` (see module doc).

    Everything else is the instance's own: attributes not defined here are looked up on it.
    """

    _CALLS = (
        "get_info", "validate_config", "initialize", "process_event", "process_batch",
        "health_check", "shutdown",
    )  # fmt: skip

    def __init__(self, instance: ProcessorInstance, ledger: TrapLedger | None) -> None:
        self.instance = instance
        self._ledger = ledger

    def _observe(self, function: str, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except errors.GuestError as exc:
            if self._ledger is not None and not isinstance(exc, errors.ProcessorErrorResult):
                self._ledger.add(function, _inputs(function, args), exc)
            raise

    def get_info(self) -> t.ProcessorInfo:
        """``get-info``."""
        info: t.ProcessorInfo = self._observe("get-info", self.instance.get_info)
        return info

    def validate_config(self, config: str) -> None:
        """``validate-config``."""
        self._observe("validate-config", self.instance.validate_config, config)

    def initialize(self, config: str) -> None:
        """``initialize``."""
        self._observe("initialize", self.instance.initialize, config)

    def process_event(self, event: t.Event) -> list[t.Event]:
        """``process-event``."""
        out: list[t.Event] = self._observe("process-event", self.instance.process_event, event)
        return out

    def process_batch(self, events: Sequence[t.Event]) -> list[t.Event]:
        """``process-batch`` (in chunks of the policy's batch size)."""
        out: list[t.Event] = self._observe("process-batch", self.instance.process_batch, events)
        return out

    def health_check(self) -> t.HealthStatus:
        """``health-check``."""
        status: t.HealthStatus = self._observe("health-check", self.instance.health_check)
        return status

    def shutdown(self) -> None:
        """``shutdown``."""
        self._observe("shutdown", self.instance.shutdown)

    def call_unchecked(self, function: str, *args: Any) -> Any:
        """An export called without the host's lifecycle checks (LIFE-006/007)."""
        return self._observe(function, self.instance.call_unchecked, function, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.instance, name)
