"""Resource limits: the workload fits the certification limits, and the host enforces them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pytest

from conformance.fixtures import Verdict
from conformance.harness import CallOutcome, ComponentUnderTest, NotAssessable, outcome
from conformance.inputs import Inputs
from reference_host import errors
from reference_host import types as t
from reference_host.limits import CallMeasurement, ResourceLimits

check = pytest.mark.conformance_check


@dataclass(frozen=True)
class WorkloadRun:
    """One run of the workload under the certification limits: what LIM-001..004 look at."""

    results: list[tuple[str, CallOutcome]]
    calls: list[CallMeasurement]
    limits: ResourceLimits


@pytest.fixture(scope="module")
def workload_run(
    conformance_component: ComponentUnderTest, conformance_inputs: Inputs
) -> WorkloadRun:
    """Each workload event, then one batch of 20; stops at the first limit stop."""
    results = []
    with conformance_component.running() as run:
        for event in conformance_inputs.workload:
            got = outcome(lambda e=event: run.instance.process_event(e))
            results.append((event.id, got))
            if got.kind == "limit":
                break
        else:
            batch = list(conformance_inputs.sample(20))
            got = outcome(lambda b=batch: run.instance.process_batch(b))
            results.append(("batch of 20", got))
        calls = [m for m in run.instance.measurements if m.function == "process-event"]
        return WorkloadRun(results, calls, run.instance.limits)


def _stopped_by(results: list[tuple[str, CallOutcome]], *kinds: type[BaseException]) -> list[str]:
    return [f"{eid}: {got}" for eid, got in results if isinstance(got.error, kinds)]


@check("LIM-001")
def test_workload_completes_within_the_certification_limits(
    workload_run: WorkloadRun,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    if not conformance_inputs.workload:
        conformance_check.fail(
            "no workload: no fixture event has a supported type; give "
            "--conformance-events FILE.jsonl"
        )
    results, calls, limits = workload_run.results, workload_run.calls, workload_run.limits
    findings = [f"{eid}: {got}" for eid, got in results if got.kind == "limit"]
    findings += [
        f"{eid}: {got}"
        for eid, got in results
        if (got.kind, got.case) == ("err", "resource-exhausted")
    ]
    fuel = [m.fuel_used for m in calls if m.fuel_used is not None]
    conformance_check.measure(
        events=len(conformance_inputs.workload),
        fuel_per_event_max=max(fuel, default=None),
        fuel_per_event_median=statistics.median(fuel) if fuel else None,
        slowest_call_ms=round(max((m.duration_s for m in calls), default=0) * 1000, 3),
        max_memory_pages=limits.max_memory_pages,
        execution_timeout_s=limits.execution_timeout_s,
    )
    conformance_check.expect_none(findings)


@check("LIM-002")
def test_no_event_runs_past_the_timeout(
    workload_run: WorkloadRun,
    conformance_check: Verdict,
) -> None:
    conformance_check.expect_none(
        _stopped_by(workload_run.results, errors.CallTimeoutError, errors.OutOfFuelError)
    )


def _fits(component: ComponentUnderTest, pages: int, events: tuple[t.Event, ...]) -> bool:
    """Whether instantiate + initialize + ``events`` all work within ``pages`` of memory."""
    try:
        with component.running(max_memory_pages=pages) as run:
            for event in events:
                got = outcome(lambda e=event: run.instance.process_event(e))
                if got.kind in ("trap", "limit") or got.case == "resource-exhausted":
                    return False
    except NotAssessable:  # instantiation or initialize did not fit
        return False
    return True


def memory_pages_needed(
    component: ComponentUnderTest, limit: int, events: tuple[t.Event, ...]
) -> int | None:
    """The smallest ``max_memory_pages`` under which ``events`` run (binary search), or None.

    wasmtime-py exposes no linear-memory size for components, so peak memory is measured from
    outside: the limit is enforced, and the least limit that suffices is the peak (in pages).
    """
    if not _fits(component, limit, events):
        return None
    low, high = 1, limit
    while low < high:
        mid = (low + high) // 2
        if _fits(component, mid, events):
            high = mid
        else:
            low = mid + 1
    return high


@check("LIM-003")
def test_memory_stays_within_the_limit(
    workload_run: WorkloadRun,
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    results, pages = workload_run.results, workload_run.limits.max_memory_pages
    findings = _stopped_by(results, errors.MemoryLimitError)
    findings += [
        f"{eid}: {got} under max_memory_pages={pages}"
        for eid, got in results
        if (got.kind, got.case) == ("err", "resource-exhausted")
    ]
    if not findings and all(got.kind in ("ok", "err") for _, got in results):
        needed = memory_pages_needed(conformance_component, pages, conformance_inputs.sample(5))
        conformance_check.measure(max_memory_pages=pages, memory_pages_needed=needed)
    conformance_check.expect_none(findings)


@check("LIM-004")
def test_no_unbounded_recursion(
    workload_run: WorkloadRun,
    conformance_check: Verdict,
) -> None:
    conformance_check.expect_none(_stopped_by(workload_run.results, errors.StackExhaustedError))


@check("LIM-005")
def test_the_host_enforces_the_limits_on_this_component(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    if not conformance_inputs.workload:
        conformance_check.fail("no workload to run under tight limits")
    event = conformance_inputs.workload[0]
    findings = []
    shown = {}
    try:
        with conformance_component.running(initialize=False, max_fuel=1) as run:
            got = outcome(lambda: run.instance.initialize(run.config))
            if not isinstance(got.error, errors.OutOfFuelError):
                findings.append(f"initialize with max_fuel=1 was not stopped: {got}")
            shown["fuel"] = isinstance(got.error, errors.OutOfFuelError)
    except NotAssessable as exc:  # its start function ran out of fuel while instantiating
        shown["fuel"] = "all fuel consumed" in str(exc)
        if not shown["fuel"]:
            findings.append(f"instantiation with max_fuel=1 failed otherwise: {exc}")
    with conformance_component.running(initialize=False, execution_timeout=0.001) as run:
        got = outcome(lambda: run.instance.initialize(run.config))
        if got.kind == "ok":
            got = outcome(lambda: run.instance.process_event(event))
        took = run.instance.measurements[-1].duration_s
        # epochs tick every 5 ms: a call that ran far past 1 ms must have been stopped
        if got.kind != "limit" and took > 0.1:
            findings.append(f"a call ran {took * 1000:.0f} ms past a 1 ms timeout: {got}")
        shown["timeout"] = isinstance(got.error, errors.CallTimeoutError)
    try:
        with conformance_component.running(initialize=False, max_memory_pages=1):
            shown["memory"] = False  # its memory fits in one page: nothing to refuse
    except Exception as exc:  # the host refused it: a MemoryLimitError behind NotAssessable
        cause = exc.__cause__ or exc
        shown["memory"] = isinstance(cause, errors.MemoryLimitError)
        if not shown["memory"]:
            findings.append(f"max_memory_pages=1 gave {type(cause).__name__}: {cause}")
    conformance_check.measure(enforcement_shown=shown)
    conformance_check.expect_none(findings)
