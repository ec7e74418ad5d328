"""Throughput: single and batch calls against the (configurable) thresholds.

Only calls the component answered ``ok`` count: an error is not work done, and a trap or limit
stop makes the measurement *not assessed* (and is a finding through the trap ledger).  PERF-002's
percentiles come from ``rounds`` batch latencies (default 100; nearest rank on the sorted
samples, so p99 of 100 samples is the second slowest); a component too slow to give that many
within the time budget is judged on its rate alone when that rate already fails, and is *not
assessed* otherwise.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.outcomes import outcome
from conformance.remote import NOT_OBSERVABLE
from conformance.settings import SuiteSettings

check = pytest.mark.conformance_check
#: Wall-clock budget of one measurement: a slow component gets fewer calls, not a longer run.
MAX_SECONDS = 5.0


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the value at rank ceil(q * n) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]


def _fuel_observed(verdict: Verdict, settings: SuiteSettings, fuel: list[Any]) -> None:
    """In-process every call is metered: no fuel figure means the check could not observe.

    Over the wire fuel is the host's business: the rates are judged, fuel is recorded as not
    observable (and the result's ``remote`` block says so).
    """
    if not fuel and not settings.remote:
        verdict.not_assessed("no call reported the fuel it used (the host ran unmetered)")


@check("PERF-001")
def test_single_call_throughput(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
    conformance_settings: SuiteSettings,
) -> None:
    th = conformance_settings.thresholds
    events = conformance_inputs.workload
    if not events:
        conformance_check.not_assessed("no workload to measure")
    durations: list[float] = []
    fuel: list[int] = []
    answered_err = 0
    with conformance_component.running() as run:
        for event in events[:5]:  # warm-up
            got = outcome(lambda e=event: run.instance.process_event(e))
            if got.failed:
                conformance_check.not_assessed(f"stopped while measuring: {got}")
        start, n = time.perf_counter(), 0
        while n < 2 * len(events) or time.perf_counter() - start < 0.5:
            event = events[n % len(events)]
            got = outcome(lambda e=event: run.instance.process_event(e))
            n += 1
            if got.failed:
                conformance_check.not_assessed(f"stopped while measuring: {got}")
            m = run.instance.measurements[-1]
            if got.kind == "ok":
                durations.append(m.duration_s)
                if m.fuel_used is not None:
                    fuel.append(m.fuel_used)
            else:
                answered_err += 1
            if n >= 20 * len(events) or (n >= 5 and time.perf_counter() - start > MAX_SECONDS):
                break
    if not durations:
        conformance_check.not_assessed(f"no call was answered ok ({answered_err} errors)")
    rate = len(durations) / sum(durations)
    _fuel_observed(conformance_check, conformance_settings, fuel)
    fuel_max = max(fuel, default=0)
    conformance_check.measure(
        events=len(durations), answered_err=answered_err, events_per_s=round(rate, 1),
        fuel_per_event_median=statistics.median(fuel) if fuel else NOT_OBSERVABLE,
        fuel_per_event_max=fuel_max if fuel else NOT_OBSERVABLE,
        call_latencies_ms=[round(d * 1000, 3) for d in durations[:500]],
        fuel_per_event_sample=fuel[:500],
    )  # fmt: skip
    findings = []
    if rate < th.single_events_per_s:
        findings.append(f"{rate:.1f} events/s < threshold {th.single_events_per_s}")
    if fuel and fuel_max > th.fuel_per_event:
        findings.append(f"{fuel_max:,} fuel for one event > threshold {th.fuel_per_event:,}")
    conformance_check.expect_none(findings)


@check("PERF-002")
def test_batch_throughput_and_latency(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
    conformance_settings: SuiteSettings,
) -> None:
    th = conformance_settings.thresholds
    events = list(conformance_inputs.workload)
    if not events:
        conformance_check.not_assessed("no workload to measure")
    batch = [events[i % len(events)] for i in range(th.batch_size)]
    wanted = th.rounds
    latencies: list[float] = []
    fuel: list[float] = []
    answered_err = 0
    with conformance_component.running(batch_size=th.batch_size) as run:
        got = outcome(lambda: run.instance.process_batch(batch[:5]))  # warm-up
        if got.failed:
            conformance_check.not_assessed(f"stopped while measuring: {got}")
        started = time.perf_counter()
        while len(latencies) + answered_err < wanted:
            if time.perf_counter() - started > 4 * MAX_SECONDS:
                break
            got = outcome(lambda: run.instance.process_batch(batch))
            m = run.instance.measurements[-1]
            if got.failed:
                conformance_check.not_assessed(f"stopped while measuring: {got}")
            if got.kind == "ok":
                latencies.append(m.duration_s)
                if m.fuel_used is not None:
                    fuel.append(m.fuel_used / len(batch))
            else:
                answered_err += 1
            if len(latencies) >= 3 and len(batch) * len(latencies) / sum(latencies) < (
                th.batch_events_per_s / 2
            ):
                break  # under half the threshold rate: no more evidence is needed
    if not latencies:
        conformance_check.not_assessed(f"no batch was answered ok ({answered_err} errors)")
    rate = len(batch) * len(latencies) / sum(latencies)
    p50, p95, p99 = (_percentile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    conformance_check.measure(
        batch_size=len(batch), samples=len(latencies), answered_err=answered_err,
        events_per_s=round(rate, 1), p50_ms=round(p50, 3), p95_ms=round(p95, 3),
        p99_ms=round(p99, 3), batch_latencies_ms=[round(x * 1000, 3) for x in latencies],
        fuel_per_event_mean=round(statistics.mean(fuel)) if fuel else NOT_OBSERVABLE,
    )  # fmt: skip
    _fuel_observed(conformance_check, conformance_settings, fuel)
    findings = []
    if rate < th.batch_events_per_s:
        findings.append(f"{rate:.1f} events/s in batches < threshold {th.batch_events_per_s}")
    if fuel and max(fuel) > th.fuel_per_event:
        findings.append(
            f"{max(fuel):,.0f} fuel per event in batches > threshold {th.fuel_per_event:,}"
        )
    if len(latencies) < wanted and not findings:
        conformance_check.not_assessed(
            f"only {len(latencies)} ok batch latencies in {4 * MAX_SECONDS:.0f} s, fewer than "
            f"the {wanted} (rounds) the p99 is taken from"
        )
    if p99 > th.batch_p99_ms:
        findings.append(f"p99 batch latency {p99:.1f} ms > threshold {th.batch_p99_ms} ms")
    conformance_check.expect_none(findings)
