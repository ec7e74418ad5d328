"""Throughput: single and batch calls against the (configurable) thresholds."""

from __future__ import annotations

import statistics
import time

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest, outcome
from conformance.inputs import Inputs
from conformance.settings import SuiteSettings

check = pytest.mark.conformance_check
#: Wall-clock budget of one measurement: a slow component gets fewer calls, not a longer run.
MAX_SECONDS = 5.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


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
        conformance_check.fail("no workload to measure")
    with conformance_component.running() as run:
        for event in events[:5]:  # warm-up
            got = outcome(lambda e=event: run.instance.process_event(e))
            if got.kind == "limit":
                conformance_check.fail(f"stopped by a limit while measuring: {got}")
        start, n = time.perf_counter(), 0
        first = len(run.instance.measurements)
        while n < 2 * len(events) or time.perf_counter() - start < 0.5:
            event = events[n % len(events)]
            got = outcome(lambda e=event: run.instance.process_event(e))
            n += 1
            if got.kind == "limit":
                conformance_check.fail(f"stopped by a limit while measuring: {got}")
            if n >= 20 * len(events) or (n >= 5 and time.perf_counter() - start > MAX_SECONDS):
                break
        elapsed = time.perf_counter() - start
        fuel = [m.fuel_used or 0 for m in run.instance.measurements[first:]]
    rate = n / elapsed
    fuel_max = max(fuel)
    conformance_check.measure(
        events=n, events_per_s=round(rate, 1), fuel_per_event_median=statistics.median(fuel),
        fuel_per_event_max=fuel_max,
    )  # fmt: skip
    findings = []
    if rate < th.single_events_per_s:
        findings.append(f"{rate:.1f} events/s < threshold {th.single_events_per_s}")
    if fuel_max > th.fuel_per_event:
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
        conformance_check.fail("no workload to measure")
    batch = [events[i % len(events)] for i in range(th.batch_size)]
    latencies, fuel = [], []
    with conformance_component.running(batch_size=th.batch_size) as run:
        got = outcome(lambda: run.instance.process_batch(batch[:5]))  # warm-up
        if got.kind == "limit":
            conformance_check.fail(f"stopped by a limit while measuring: {got}")
        started = time.perf_counter()
        for i in range(th.rounds):
            if i >= 3 and time.perf_counter() - started > MAX_SECONDS:
                break  # a slow component: three rounds tell enough
            got = outcome(lambda: run.instance.process_batch(batch))
            m = run.instance.measurements[-1]
            if got.kind == "limit":
                conformance_check.fail(f"stopped by a limit while measuring: {got}")
            latencies.append(m.duration_s)
            fuel.append((m.fuel_used or 0) / len(batch))
    total = sum(latencies)
    rate = len(batch) * len(latencies) / total
    p50, p95, p99 = (_percentile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    conformance_check.measure(
        batch_size=len(batch), rounds=len(latencies), events_per_s=round(rate, 1),
        p50_ms=round(p50, 3), p95_ms=round(p95, 3), p99_ms=round(p99, 3),
        fuel_per_event_mean=round(statistics.mean(fuel)),
    )  # fmt: skip
    findings = []
    if rate < th.batch_events_per_s:
        findings.append(f"{rate:.1f} events/s in batches < threshold {th.batch_events_per_s}")
    if p99 > th.batch_p99_ms:
        findings.append(f"p99 batch latency {p99:.1f} ms > threshold {th.batch_p99_ms} ms")
    if max(fuel) > th.fuel_per_event:
        findings.append(
            f"{max(fuel):,.0f} fuel per event in batches > threshold {th.fuel_per_event:,}"
        )
    conformance_check.expect_none(findings)
