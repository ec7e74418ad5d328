"""Resource limits: the workload fits the certification limits, and the host enforces them."""

from __future__ import annotations

import dataclasses
import functools
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.outcomes import CallOutcome, NotAssessable, outcome
from reference_host import errors
from reference_host import types as t
from reference_host.limits import WASM_PAGE, CallMeasurement, ResourceLimits

check = pytest.mark.conformance_check
#: The most pages the suite gives a component to tell "needs more memory" from other traps.
MAX_PAGES = 65536
#: LIM-006: the pages of headroom the long run gets above what N events needed.
LEAK_PAGES = 4
#: LIM-006: wall-clock budget and most events of the long run.
LONG_RUN_SECONDS = 3.0
LONG_RUN_MAX = 20_000


@dataclass(frozen=True)
class WorkloadRun:
    """One run of the workload under the certification limits: what LIM-001..004 look at."""

    results: list[tuple[tuple[t.Event, ...], CallOutcome]]
    calls: list[CallMeasurement]
    limits: ResourceLimits

    def label(self, events: tuple[t.Event, ...]) -> str:
        """An event's id, or ``batch of n``."""
        return events[0].id if len(events) == 1 else f"batch of {len(events)}"


@pytest.fixture(scope="module")
def workload_run(
    conformance_component: ComponentUnderTest, conformance_inputs: Inputs
) -> WorkloadRun:
    """Each workload event, then one batch of 20; stops at the first limit stop."""
    results: list[tuple[tuple[t.Event, ...], CallOutcome]] = []
    with conformance_component.running() as run:
        for event in conformance_inputs.workload:
            got = outcome(lambda e=event: run.instance.process_event(e))
            results.append(((event,), got))
            if got.kind == "limit":
                break
        else:
            batch = conformance_inputs.sample(20)
            got = outcome(lambda b=batch: run.instance.process_batch(list(b)))
            results.append((batch, got))
        calls = [m for m in run.instance.measurements if m.function == "process-event"]
        return WorkloadRun(results, calls, run.instance.limits)


def _stopped_by(run: WorkloadRun, *kinds: type[BaseException]) -> list[str]:
    return [f"{run.label(ev)}: {got}" for ev, got in run.results if isinstance(got.error, kinds)]


def _reproduce(verdict: Verdict, run: WorkloadRun, failed: Any) -> None:
    """Record the events of the calls whose outcome ``failed`` holds."""
    for events, got in run.results:
        if failed(got):
            for event in events:
                verdict.reproduce(event, "process-event" if len(events) == 1 else "process-batch")


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
    findings = [
        f"{workload_run.label(ev)} "
        + ("was stopped by a resource limit" if got.kind == "limit" else "trapped")
        + f": {got}"
        for ev, got in results
        if got.failed
    ]
    findings += [
        f"{workload_run.label(ev)} ran out of resources: {got}"
        for ev, got in results
        if (got.kind, got.case) == ("err", "resource-exhausted")
    ]
    exhausted = ("err", "resource-exhausted")
    _reproduce(conformance_check, workload_run,
               lambda got: got.failed or (got.kind, got.case) == exhausted)  # fmt: skip
    fuel = [m.fuel_used for m in calls if m.fuel_used is not None and m.outcome != "err"]
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
    kinds = (errors.CallTimeoutError, errors.OutOfFuelError)
    _reproduce(conformance_check, workload_run, lambda got: isinstance(got.error, kinds))
    conformance_check.expect_none(_stopped_by(workload_run, *kinds))


def _fits(
    component: ComponentUnderTest, pages: int, events: tuple[t.Event, ...], *, batch: bool = False
) -> bool:
    """Whether instantiate + initialize + ``events`` all work within ``pages`` of memory.

    One process-event call per event, or (``batch``) one process-batch call for them all.
    """
    try:
        with component.running(max_memory_pages=pages, probing=True) as run:
            calls = (
                [lambda: run.instance.process_batch(list(events))]
                if batch
                else [functools.partial(run.instance.process_event, e) for e in events]
            )
            for call in calls:
                got = outcome(call)
                if got.failed or got.case == "resource-exhausted":
                    return False
    except NotAssessable:  # instantiation or initialize did not fit
        return False
    return True


def pages_needed(
    component: ComponentUnderTest, events: tuple[t.Event, ...], low: int, high: int
) -> int | None:
    """The smallest ``max_memory_pages`` in ``[low, high]`` under which ``events`` run, or None.

    wasmtime-py exposes no linear-memory size for components, so memory is measured from
    outside: the limit is enforced, and the least limit that suffices is the peak (in pages).
    """
    if not _fits(component, high, events):
        return None
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
    """Each workload event fits in the memory limit.

    Stopped by the memory limit, ``resource-exhausted``, or a trap that more memory cures (what
    allocators do when ``memory.grow`` is refused) all mean: needs more than the limit.
    """
    pages = workload_run.limits.max_memory_pages
    more = min(MAX_PAGES, pages * 8)
    findings = []
    for events, got in workload_run.results:
        label = workload_run.label(events)
        memory = isinstance(got.error, errors.MemoryLimitError) or got.case == "resource-exhausted"
        if memory or got.kind == "trap":
            cured = _fits(conformance_component, more, events, batch=len(events) > 1)
            if got.kind == "trap" and cured:
                findings.append(
                    f"{label} needs more than max_memory_pages={pages}: it traps when "
                    f"memory.grow is refused ({got}) and succeeds with {more} pages"
                )
            elif memory:
                findings.append(f"{label} needs more than max_memory_pages={pages}: {got}")
    if not findings and all(not got.failed for _, got in workload_run.results):
        needed = pages_needed(conformance_component, conformance_inputs.sample(5), 1, pages)
        conformance_check.measure(max_memory_pages=pages, memory_pages_needed=needed)
    conformance_check.expect_none(findings)


@check("LIM-004")
def test_no_unbounded_recursion(
    workload_run: WorkloadRun,
    conformance_check: Verdict,
) -> None:
    conformance_check.expect_none(_stopped_by(workload_run, errors.StackExhaustedError))


def _long_workload(events: tuple[t.Event, ...], n: int) -> tuple[t.Event, ...]:
    """``n`` events cycling through ``events``, each with an id of its own."""
    return tuple(
        dataclasses.replace(events[i % len(events)], id=f"{events[i % len(events)].id}~{i}")
        for i in range(n)
    )


@check("LIM-006")
def test_memory_does_not_grow_with_the_events_processed(
    workload_run: WorkloadRun,
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    """A long run on one instance fits in the memory that the first N events needed.

    The least ``max_memory_pages`` for N workload events (N at least 20) is measured, then one
    instance gets that plus :data:`LEAK_PAGES` pages and runs many more events -- the workload
    over and over, each event with an id of its own, for about :data:`LONG_RUN_SECONDS` (at
    least 4N, at most :data:`LONG_RUN_MAX` events; the first half one event per process-event
    call, the rest in process-batch calls of 10).  A component that keeps something per event
    (a history, a seen-set, a cache without bound) runs out of that memory once the free heap it
    started with is used up; one that does not, runs on.  The result reports how far it got.
    """
    if not conformance_inputs.workload:
        conformance_check.not_assessed("no workload to run")
    calls = [m.duration_s for m in workload_run.calls if m.outcome == "ok"]
    if not calls:
        conformance_check.not_assessed("no workload event was processed successfully")
    per_event = statistics.median(calls)
    n = max(20, len(conformance_inputs.workload))
    long_n = int(min(LONG_RUN_MAX, max(4 * n, LONG_RUN_SECONDS / max(per_event, 1e-6))))
    limit = workload_run.limits.max_memory_pages
    short_pages = pages_needed(
        conformance_component, _long_workload(conformance_inputs.workload, n), 1, limit
    )
    if short_pages is None:
        conformance_check.not_assessed(f"{n} workload events do not fit in {limit} pages (LIM-003)")
    pages = min(limit, short_pages + LEAK_PAGES)
    done, stopped = 0, None
    long = _long_workload(conformance_inputs.workload, long_n)
    half = long_n // 2  # the first half one event per call, the rest in batches of 10
    with conformance_component.running(max_memory_pages=pages, probing=True) as run:
        steps = [((e,), functools.partial(run.instance.process_event, e)) for e in long[:half]]
        steps += [
            (chunk, functools.partial(run.instance.process_batch, list(chunk)))
            for chunk in (long[i : i + 10] for i in range(half, long_n, 10))
        ]
        for events, call in steps:
            got = outcome(call)
            if got.failed or got.case == "resource-exhausted":
                stopped = got
                break
            done += len(events)
    conformance_check.measure(
        events=[n, long_n], pages=[short_pages, pages], long_run_completed=done,
    )  # fmt: skip
    if stopped is None:
        return
    if isinstance(stopped.error, errors.CallTimeoutError | errors.OutOfFuelError):
        conformance_check.not_assessed(f"the long run was stopped by a time limit: {stopped}")
    if stopped.kind == "trap" and not _fits(
        conformance_component, min(MAX_PAGES, pages * 8), events, batch=len(events) > 1
    ):
        conformance_check.not_assessed(
            f"the long run trapped on a call that traps with any memory too: {stopped}"
        )
    # the rate, once the free heap is used up: the least memory for twice as many events
    k = max(done + 1, n)
    more = pages_needed(
        conformance_component, _long_workload(conformance_inputs.workload, 2 * k), pages,
        min(MAX_PAGES, pages * 4),
    )  # fmt: skip
    rate = (
        f"about {(more - pages) * WASM_PAGE // k:,} bytes per event"
        if more is not None
        else f"more than {(pages * 3) * WASM_PAGE // k:,} bytes per event"
    )
    conformance_check.measure(
        events=[n, long_n], pages=[short_pages, pages], long_run_completed=done,
        pages_for_twice_as_many=more, growth=rate,
    )  # fmt: skip
    conformance_check.fail(
        f"memory grows with the events processed: {n} events fit in {short_pages} pages, but on "
        f"one instance with {pages} pages event #{done + 1} of {long_n} fails ({stopped}); "
        f"{2 * k} events need {more or 'more than ' + str(pages * 4)} pages: {rate} are never "
        "freed; a long-running pipeline runs out of memory"
    )


def _probe_findings(
    component: ComponentUnderTest, limits: ResourceLimits
) -> tuple[dict[str, bool], list[str]]:
    """Run the suite's probe guests (spin, membomb, recurse) under ``limits`` on the host."""
    from conformance import probe_guests
    from reference_host.processor import ProcessorInstance

    shown: dict[str, bool] = {}
    findings: list[str] = []
    probe_event = t.Event("conformance-probe", 0, "flowctl-conformance", t.EventType.CUSTOM,
                          t.Generic("{}"))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="flowctl-probes-") as tmp:
        loaded = {
            name: component.host.load(probe_guests.write(name, Path(tmp)), verify=True)
            for name in probe_guests.LIMIT_PROBES
        }

        def attempt(name: str, lim: ResourceLimits, call: str) -> tuple[CallOutcome, float, int]:
            with ProcessorInstance(component.host, loaded[name], limits=lim) as inst:
                inst.initialize("{}")
                start = time.perf_counter()
                got = outcome(
                    lambda: (
                        inst.process_event(probe_event)
                        if call == "event"
                        else inst.process_batch([probe_event])
                    )
                )
                took = time.perf_counter() - start
                pages = -1
                if name == "membomb" and not got.failed:
                    pages = int(inst.health_check().timestamp)
                return got, took, pages

        timeout = dataclasses.replace(limits, execution_timeout_s=0.05)
        got, took, _ = attempt("spin", timeout, "event")
        shown["timeout"] = isinstance(got.error, errors.CallTimeoutError) and took < 2.0
        if not shown["timeout"]:
            findings.append(f"a guest that never returns ran {took:.2f} s past a 0.05 s "
                            f"execution_timeout: {got}")  # fmt: skip
        fuel = dataclasses.replace(limits, max_fuel=1_000_000, execution_timeout_s=2.0)
        got, took, _ = attempt("spin", fuel, "event")
        shown["fuel"] = isinstance(got.error, errors.OutOfFuelError)
        if not shown["fuel"]:
            findings.append(
                f"a guest that never returns was not stopped by max_fuel=1000000: {got}"
            )
        memory = dataclasses.replace(limits, max_memory_pages=64)
        got, _, pages = attempt("membomb", memory, "batch")
        shown["memory"] = got.kind == "err" and 0 < pages <= 64
        if not shown["memory"]:
            findings.append(f"a guest growing its memory got {pages} pages under "
                            f"max_memory_pages=64: {got}")  # fmt: skip
        got, _, _ = attempt("recurse", limits, "event")
        shown["stack"] = isinstance(got.error, errors.StackExhaustedError)
        if not shown["stack"]:
            findings.append(f"unbounded recursion was not stopped by the stack limit: {got}")
    return shown, findings


@check("LIM-005")
def test_the_host_enforces_the_limits_on_this_component(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
) -> None:
    """The certification limits hold, on the suite's probe guests and on this component.

    The probe guests spin, grow memory and recurse under the certification engine; on this
    component, fuel and memory at instantiation / initialize.
    """
    limits = conformance_component.limits_of(conformance_component.base_policy)
    shown, findings = _probe_findings(conformance_component, limits)
    on_component: dict[str, bool] = {}
    try:
        with conformance_component.running(initialize=False, max_fuel=1, probing=True) as run:
            got = outcome(lambda: run.instance.initialize(run.config))
            on_component["fuel"] = isinstance(got.error, errors.OutOfFuelError)
            if not on_component["fuel"]:
                findings.append(f"initialize with max_fuel=1 was not stopped: {got}")
    except NotAssessable as exc:  # its start function ran out of fuel while instantiating
        on_component["fuel"] = "all fuel consumed" in str(exc)
        if not on_component["fuel"]:
            if "refuses the component" in str(exc):
                raise  # the host runs nothing of it: not assessed
            findings.append(f"instantiation with max_fuel=1 failed otherwise: {exc}")
    try:
        with conformance_component.running(initialize=False, max_memory_pages=1, probing=True):
            on_component["memory"] = False  # its memory fits in one page: nothing to refuse
    except NotAssessable as exc:
        cause = exc.__cause__ or exc
        on_component["memory"] = isinstance(cause, errors.MemoryLimitError)
        if not on_component["memory"]:
            findings.append(f"max_memory_pages=1 gave {type(cause).__name__}: {cause}")
    conformance_check.measure(enforcement_shown=shown, on_component=on_component)
    conformance_check.expect_none(findings)
    missing = [k for k in ("timeout", "fuel", "memory", "stack") if not shown.get(k)]
    if missing:
        conformance_check.not_assessed(f"enforcement of {', '.join(missing)} was not shown")
