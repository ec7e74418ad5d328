"""Output contract and determinism."""

from __future__ import annotations

import json

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest, outcome
from conformance.inputs import Inputs
from reference_host import types as t
from reference_host.jsonform import event_to_json

check = pytest.mark.conformance_check

#: Outputs one input event may give before OUT-004 calls it a flood.
MAX_OUTPUTS_PER_EVENT = 1000


def _singles(
    component: ComponentUnderTest, events: tuple[t.Event, ...], verdict: Verdict
) -> tuple[list[t.Event], list[str]]:
    """Run ``events`` one by one on a fresh instance: (outputs, the events that failed alone).

    A limit stop fails the check: nothing after it could be assessed.
    """
    out: list[t.Event] = []
    failed: list[str] = []
    with component.running() as run:
        for event in events:
            got = outcome(lambda e=event: run.instance.process_event(e))
            if got.kind == "limit":
                verdict.fail(f"not assessed: {event.id} was stopped by a limit: {got}")
            if got.kind == "ok":
                out.extend(got.value)
            else:
                failed.append(f"{event.id}: {got}")
    return out, failed


def _outputs(
    component: ComponentUnderTest, events: tuple[t.Event, ...], verdict: Verdict
) -> list[t.Event]:
    return _singles(component, events, verdict)[0]


@check("OUT-001")
def test_output_types_are_declared(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    declared = {str(x) for x in conformance_component.info.output_event_types}
    outputs = _outputs(conformance_component, conformance_inputs.workload, conformance_check)
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
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    ids = [
        o.id
        for o in _outputs(conformance_component, conformance_inputs.workload, conformance_check)
    ]
    seen: set[str] = set()
    duplicates = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    conformance_check.expect_none([f"output id {i!r} occurs more than once" for i in duplicates])


@check("OUT-003")
def test_batch_equals_single_calls(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    events = conformance_inputs.sample(20)
    singles, failed = _singles(conformance_component, events, conformance_check)
    with conformance_component.running() as run:
        batch = outcome(lambda: run.instance.process_batch(list(events)))
    conformance_check.measure(events=len(events), failed_singly=len(failed))
    if batch.kind != "ok":
        if failed:  # a batch holding an event that fails alone may fail as a whole
            return
        conformance_check.fail(
            f"process-batch of {len(events)} events gave {batch}; each event alone succeeds"
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
    findings, most = [], 0
    with conformance_component.running() as run:
        for event in conformance_inputs.sample(20):
            got = outcome(lambda e=event: run.instance.process_event(e))
            if isinstance(got.error, Exception) and type(got.error).__name__ == "OutputLimitError":
                findings.append(f"{event.id}: {got}")
                break
            if got.kind == "ok":
                most = max(most, len(got.value))
                if len(got.value) > MAX_OUTPUTS_PER_EVENT:
                    findings.append(
                        f"{event.id} gave {len(got.value)} outputs (> {MAX_OUTPUTS_PER_EVENT})"
                    )
    conformance_check.measure(max_outputs_per_event=most)
    conformance_check.expect_none(findings)


@check("DET-001")
def test_two_fresh_instances_give_identical_output(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    events = conformance_inputs.sample(20)
    first = _outputs(conformance_component, events, conformance_check)
    second = _outputs(conformance_component, events, conformance_check)
    if first != second:
        conformance_check.fail(f"two fresh instances differ: {_first_difference(first, second)}")
    conformance_check.measure(outputs=len(first))
