"""A pytest plugin that breaks the reference host on purpose: fuel limits are never enforced.

Loaded into a conformance run (``-p tests.integration.unmetered_host``) to prove LIM-005 -- the
host regression check -- fails on a host that does not enforce ``max_fuel``.
"""

from __future__ import annotations

from typing import Any

from reference_host import limits

UNLIMITED = 2**62


def pytest_configure(config: Any) -> None:
    original = limits.CallBudget.arm

    def arm(self: limits.CallBudget, store: Any, function: str, events: int = 1) -> None:
        original(self, store, function, events)
        if self.limits.max_fuel is not None:  # whatever the policy says, the guest runs on
            self.fuel = UNLIMITED
            store.set_fuel(UNLIMITED)

    limits.CallBudget.arm = arm  # type: ignore[method-assign]
