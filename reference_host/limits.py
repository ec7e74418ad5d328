"""Resource limits, their enforcement per call, and the measurements each call leaves behind.

Every call into the guest is armed afresh (:meth:`CallBudget.arm`): fuel is reset to
``max_fuel`` and the epoch deadline to ``execution_timeout`` from *now*, so limits hold on every
call, not only the first.  Time spent inside host functions counts: the epoch keeps ticking while
the host works, and the guest traps as soon as it runs again past its deadline; host capabilities
bound their own I/O by :meth:`CallBudget.remaining`.  What kind of trap a spent limit causes is
decided in :mod:`reference_host.traps`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from wasmtime import Store

from reference_host.engine import EngineConfig

WASM_PAGE = 65536


@dataclass(frozen=True)
class ResourceLimits:
    """Per-instance limits (from the policy: ``max_memory_pages``, ``max_fuel``, ...).

    ``max_fuel=None`` disables fuel metering (fuel costs 15-50 % throughput; the wall-clock
    timeout is always enforced through epochs).
    """

    max_memory_pages: int = 256
    max_fuel: int | None = None
    execution_timeout_s: float = 10.0
    max_wasm_stack: int = 512 * 1024
    batch_size: int = 100
    max_output_events: int = 100_000
    epoch_tick_s: float = 0.005

    def __post_init__(self) -> None:
        if self.max_memory_pages < 1:
            raise ValueError("max_memory_pages must be >= 1")
        if self.max_fuel is not None and self.max_fuel < 1:
            raise ValueError("max_fuel must be >= 1 (or None to disable metering)")
        if not self.execution_timeout_s > 0:
            raise ValueError("execution_timeout must be > 0")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")

    @property
    def memory_bytes(self) -> int:
        """``max_memory_pages`` in bytes."""
        return self.max_memory_pages * WASM_PAGE

    def engine_config(self) -> EngineConfig:
        """The engine configuration these limits need."""
        return EngineConfig(
            fuel=self.max_fuel is not None,
            max_wasm_stack=self.max_wasm_stack,
            epoch_tick_s=self.epoch_tick_s,
        )


@dataclass(frozen=True)
class CallMeasurement:
    """What one call into the guest cost.

    ``memory_pages`` is ``None``: wasmtime-py's component API exposes no linear-memory size (the
    memory is not a component-level export), so the limit is enforced but usage is not measured.
    """

    function: str
    duration_s: float
    fuel_used: int | None
    events_in: int
    events_out: int
    outcome: str  # "ok" | "err" | "trap:<kind>"
    memory_pages: int | None = None


@dataclass
class CallBudget:
    """Arms a store before each call and tells host functions how much time is left."""

    limits: ResourceLimits
    deadline: float = field(default=0.0)
    function: str = ""
    fuel: int = 0

    def arm(self, store: Store, function: str, events: int = 1) -> None:
        """Reset fuel and the epoch deadline for a call to ``function`` starting now.

        ``max_fuel`` is per event, as the design document's pipeline YAML describes it: a call
        carrying ``events`` events (``process-batch``) may use ``events * max_fuel``.  The
        wall-clock timeout is per call.
        """
        lim = self.limits
        if lim.max_fuel is not None:
            self.fuel = lim.max_fuel * max(1, events)
            store.set_fuel(self.fuel)
        store.set_epoch_deadline(math.ceil(lim.execution_timeout_s / lim.epoch_tick_s) + 1)
        self.deadline = time.monotonic() + lim.execution_timeout_s
        self.function = function

    def remaining(self) -> float:
        """Seconds left in the current call's wall-clock budget (0 when spent)."""
        return max(0.0, self.deadline - time.monotonic())

    def fuel_used(self, store: Store) -> int | None:
        """Fuel consumed since :meth:`arm` (None when metering is off)."""
        if self.limits.max_fuel is None:
            return None
        return self.fuel - store.get_fuel()
