"""A short trap storm (issue 16; the long one: ``python -m benchmarks.trap_storm``): a component
that traps on every other event -- the host stays up and answers every event, in-process and
through ``flowctl-host serve`` over real gRPC."""

from __future__ import annotations

import pytest

from benchmarks.trap_storm import in_process, served

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("storm", [in_process, served], ids=["in-process", "serve"])
def test_every_event_is_answered_and_the_host_stays_up(storm: object) -> None:
    result = storm(400)  # type: ignore[operator]
    assert (result.events, result.answered, result.lost) == (400, 400, 0)
    assert result.traps == 200 and result.recycles == 200  # one fresh instance per trap
    assert result.up_after  # it still answers after the storm


#: The stated bound on what one trap costs in-process, recycle (a fresh instance, initialized
#: again) included; measured ~0.4 ms on 2 cores for this member (``benchmarks.trap_storm``).
RECYCLE_BOUND_MS = 25.0


def test_a_recycle_costs_less_than_the_stated_bound() -> None:
    result = in_process(200)
    assert result.trap_call_ms is not None and result.ok_call_ms is not None
    assert result.trap_call_ms < RECYCLE_BOUND_MS, result
