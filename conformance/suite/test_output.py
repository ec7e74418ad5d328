"""Output contract and determinism."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.outcomes import outcome
from reference_host import types as t
from reference_host.jsonform import event_to_json

check = pytest.mark.conformance_check

#: Outputs one input event may give before OUT-004 calls it a flood: count, and bytes of their
#: JSON form.
MAX_OUTPUTS_PER_EVENT = 1000
MAX_OUTPUT_BYTES_PER_EVENT = 1 << 20


@dataclass(frozen=True)
class Singles:
    """``process-event`` over events, one by one, on one fresh instance."""

    outputs: list[t.Event]
    failed: list[str]  # the events that failed alone
    stopped: str | None  # a limit stop: nothing after it could be assessed

    def outputs_or_fail(self, verdict: Verdict, declared: set[str] | None = None) -> list[t.Event]:
        """The outputs, or fail the check as not assessed.

        Not assessed when a limit stopped the run, or when the component declares output types
        and the workload gave no output at all.
        """
        if self.stopped is not None:
            verdict.fail(self.stopped)
        if declared and not self.outputs:
            verdict.not_assessed(
                f"the workload gave no output at all, although output-event-types is "
                f"{sorted(declared)}: give a workload that produces output "
                "(--conformance-events) or fix the component"
            )
        return self.outputs


def _singles(component: ComponentUnderTest, events: tuple[t.Event, ...]) -> Singles:
    out: list[t.Event] = []
    failed: list[str] = []
    with component.running() as run:
        for event in events:
            got = outcome(lambda e=event: run.instance.process_event(e))
            if got.kind == "limit":
                return Singles(
                    out, failed, f"not assessed: {event.id} was stopped by a limit: {got}"
                )
            if got.kind == "ok":
                out.extend(got.value)
            else:
                failed.append(f"{event.id}: {got}")
    return Singles(out, failed, None)


@pytest.fixture(scope="module")
def workload_singles(
    conformance_component: ComponentUnderTest, conformance_inputs: Inputs
) -> Singles:
    """The whole workload, one event per call (shared by OUT-001 and OUT-002)."""
    return _singles(conformance_component, conformance_inputs.workload)


@check("OUT-001")
def test_output_types_are_declared(
    workload_singles: Singles,
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
) -> None:
    declared = {str(x) for x in conformance_component.info.output_event_types}
    outputs = workload_singles.outputs_or_fail(conformance_check, declared)
    emitted = sorted({str(o.event_type) for o in outputs})
    conformance_check.measure(outputs=len(outputs), emitted_types=emitted)
    conformance_check.expect_none(
        [
            f"emits {x} events; output-event-types is {sorted(declared)}"
            for x in emitted
            if x not in declared
        ]
    )


@check("OUT-002")
def test_output_ids_are_unique(
    workload_singles: Singles,
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
) -> None:
    declared = {str(x) for x in conformance_component.info.output_event_types}
    ids = Counter(o.id for o in workload_singles.outputs_or_fail(conformance_check, declared))
    duplicates = sorted(i for i, n in ids.items() if n > 1)
    conformance_check.expect_none([f"output id {i!r} occurs more than once" for i in duplicates])


@check("OUT-003")
def test_batch_equals_single_calls(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    """process-batch over 20 workload events gives what process-event gives one by one.

    A batch holding an event that fails alone may fail as a whole with a typed error; a
    trapping batch is never excused.
    """
    events = conformance_inputs.sample(20)
    alone = _singles(conformance_component, events)
    singles, failed = alone.outputs_or_fail(conformance_check), alone.failed
    with conformance_component.running() as run:
        batch = outcome(lambda: run.instance.process_batch(list(events)))
    conformance_check.measure(events=len(events), failed_singly=len(failed))
    if batch.failed:
        conformance_check.fail(f"process-batch of {len(events)} events gave {batch}")
    if batch.kind != "ok":
        if failed:  # a batch holding an event that fails alone may fail as a whole
            return
        conformance_check.fail(
            f"process-batch of {len(events)} events gave {batch}; each event alone succeeds"
        )
    if batch.value != singles and _singles(conformance_component, events).outputs != singles:
        conformance_check.not_assessed(
            "two fresh instances already give different outputs for these events (DET-001)"
        )
    if batch.value != singles:
        conformance_check.fail(
            f"process-batch gave {len(batch.value)} events, process-event {len(singles)}; first "
            f"difference: {_first_difference(batch.value, singles)}"
        )


def _first_difference(a: list[t.Event], b: list[t.Event]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            left, right = json.dumps(event_to_json(x)), json.dumps(event_to_json(y))
            return f"#{i}: {left[:200]} vs {right[:200]}"
    return f"one list is a prefix of the other (lengths {len(a)} and {len(b)})"


@check("OUT-004")
def test_output_size_is_bounded(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    findings, most, biggest = [], 0, 0
    with conformance_component.running() as run:
        for event in conformance_inputs.sample(20):
            got = outcome(lambda e=event: run.instance.process_event(e))
            if isinstance(got.error, Exception) and type(got.error).__name__ == "OutputLimitError":
                findings.append(f"{event.id}: {got}")
                conformance_check.reproduce(event)
                break
            if got.kind == "limit":
                conformance_check.not_assessed(f"{event.id} was stopped by a limit: {got}")
            if got.kind != "ok":
                continue
            size = sum(len(json.dumps(event_to_json(o))) for o in got.value)
            most, biggest = max(most, len(got.value)), max(biggest, size)
            if len(got.value) > MAX_OUTPUTS_PER_EVENT:
                findings.append(
                    f"{event.id} gave {len(got.value)} outputs (> {MAX_OUTPUTS_PER_EVENT})"
                )
            if size > MAX_OUTPUT_BYTES_PER_EVENT:
                findings.append(
                    f"{event.id} gave {size:,} bytes of output (> {MAX_OUTPUT_BYTES_PER_EVENT:,} "
                    "bytes per input event)"
                )
    conformance_check.measure(max_outputs_per_event=most, max_output_bytes_per_event=biggest)
    conformance_check.expect_none(findings)


@check("DET-001")
def test_two_fresh_instances_give_identical_output(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    events = conformance_inputs.workload
    declared = {str(x) for x in conformance_component.info.output_event_types}
    first = _singles(conformance_component, events).outputs_or_fail(conformance_check, declared)
    second = _singles(conformance_component, events).outputs_or_fail(conformance_check, declared)
    if first != second:
        conformance_check.fail(f"two fresh instances differ: {_first_difference(first, second)}")
    conformance_check.measure(outputs=len(first))
