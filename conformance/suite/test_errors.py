"""Typed errors: no well-typed input traps; malformed bodies and unsupported types answer right."""

from __future__ import annotations

import json

import pytest

from conformance.configs import draw
from conformance.coverage import coverage_events
from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.outcomes import CallOutcome, outcome
from conformance.passes import reproducible
from conformance.settings import SuiteSettings
from conformance.strategies import events
from reference_host import types as t
from reference_host.jsonform import event_to_json

check = pytest.mark.conformance_check
GOOD_ERRORS = ("processing-failed", "invalid-event")


def _shown(event: t.Event) -> str:
    return json.dumps(event_to_json(event))[:300]


@check("ERR-001")
def test_no_well_typed_input_traps(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
    conformance_settings: SuiteSettings,
) -> None:
    generated = draw(events(), conformance_settings.examples)
    covering = coverage_events([*conformance_inputs.workload, *conformance_inputs.unsupported])
    inputs = [
        *conformance_inputs.workload,
        *conformance_inputs.malformed,
        *conformance_inputs.unsupported,
        *covering,
        *generated,
    ]
    counts: dict[str, int] = {}
    findings: list[str] = []
    with conformance_component.running() as run:
        for event in inputs:
            for function, call in (
                ("process-event", lambda e=event: run.instance.process_event(e)),
                ("process-batch([event])", lambda e=event: run.instance.process_batch([e])),
            ):
                got = outcome(call)
                counts[got.kind] = counts.get(got.kind, 0) + 1
                if got.kind == "trap":
                    findings.append(f"{function} trapped: {got}; the event: {_shown(event)}")
                    conformance_check.reproduce(event, function.split("(")[0])
                if got.kind == "limit":
                    conformance_check.not_assessed(f"stopped by a resource limit: {got}")
            if len(findings) >= 5:
                break
        whole = list(conformance_inputs.workload)
        if whole and not findings:
            got = outcome(lambda: run.instance.process_batch(whole))
            counts[got.kind] = counts.get(got.kind, 0) + 1
            if got.kind == "trap":
                findings.append(f"process-batch of the {len(whole)} workload events trapped: {got}")
            elif got.kind == "limit":
                conformance_check.not_assessed(f"the workload batch was stopped by a limit: {got}")
    conformance_check.measure(
        events=len(inputs), generated=len(generated), covering=len(covering), outcomes=counts
    )
    conformance_check.expect_none(findings)


def _answer(got: CallOutcome) -> str:
    if got.kind == "ok":
        return json.dumps([event_to_json(e) for e in got.value], sort_keys=True)
    return str(got)


@check("ERR-002")
def test_malformed_bodies_give_the_right_error(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    """A malformed operation body is answered processing-failed or invalid-event.

    ``ok`` is accepted only where it provably loses nothing: when the event's twin -- the same
    event with every body repaired (``fixtures/events/ttp_malformed_twins.jsonl``) -- gets the
    very same answer, the component does not read what is malformed (an operation type it does
    not extract, an amount below its ``min_amount``...).  Otherwise ``ok`` silently dropped or
    altered the malformed operation: data loss.
    """
    if not conformance_inputs.malformed:
        conformance_check.not_applicable("the component supports no transaction events")
    findings, silent = [], 0
    for event in conformance_inputs.malformed:
        twin = conformance_inputs.twin_of(event)
        with conformance_component.running() as run:
            got = outcome(lambda e=event: run.instance.process_event(e))
        if got.kind == "limit" or got.case == "resource-exhausted":
            conformance_check.not_assessed(f"{event.id} was stopped by a resource limit: {got}")
        if got.kind == "trap":
            findings.append(f"{event.id}: {got}")
            conformance_check.reproduce(event)
        elif got.kind == "err" and got.case not in GOOD_ERRORS:
            findings.append(f"{event.id}: {got}; expected processing-failed or invalid-event")
            conformance_check.reproduce(event)
        elif got.kind == "ok":
            if twin is None:
                findings.append(f"{event.id}: answered {got} and has no repaired twin to compare")
                continue
            with conformance_component.running() as run:
                repaired = outcome(lambda e=twin: run.instance.process_event(e))
            if _answer(repaired) != _answer(got) and not reproducible(
                conformance_component, [twin]
            ):
                conformance_check.not_assessed(
                    f"two fresh instances answer {twin.id} differently (DET-001): its malformed "
                    "twin cannot be compared with it"
                )
            if _answer(repaired) != _answer(got):
                silent += 1
                findings.append(
                    f"{event.id}: a malformed operation body was answered {got}, while the same "
                    f"event with the body repaired gives {repaired}: the malformed operation was "
                    "silently dropped or altered (data loss); answer err(processing-failed)"
                )
                conformance_check.reproduce(event)
    conformance_check.measure(malformed=len(conformance_inputs.malformed), silent_drops=silent)
    conformance_check.expect_none(findings)


def _unsupported_ok(got: CallOutcome) -> bool:
    return (got.kind == "ok" and got.value == []) or (got.kind, got.case) == (
        "err",
        "invalid-event",
    )


@check("ERR-003")
def test_unsupported_event_types_are_skipped_or_refused(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    if not conformance_inputs.unsupported:
        conformance_check.not_applicable("the component supports every event type")
    findings = []
    with conformance_component.running() as run:
        for event in conformance_inputs.unsupported:
            got = outcome(lambda e=event: run.instance.process_event(e))
            if got.kind == "limit" or got.case == "resource-exhausted":
                conformance_check.not_assessed(f"{event.id} was stopped by a resource limit: {got}")
            if not _unsupported_ok(got):
                findings.append(f"unsupported {event.event_type} event {event.id}: {got}")
                conformance_check.reproduce(event)
    conformance_check.expect_none(findings)
