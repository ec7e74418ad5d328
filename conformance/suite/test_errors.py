"""Typed errors: no well-typed input traps; malformed bodies and unsupported types answer right."""

from __future__ import annotations

import json

import pytest

from conformance.configs import draw
from conformance.fixtures import Verdict
from conformance.harness import CallOutcome, ComponentUnderTest, outcome
from conformance.inputs import Inputs
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
    inputs = [
        *conformance_inputs.sample(10),
        *conformance_inputs.malformed,
        *conformance_inputs.unsupported,
        *generated,
    ]
    counts: dict[str, int] = {}
    with conformance_component.running() as run:
        for event in inputs:
            got = outcome(lambda e=event: run.instance.process_event(e))
            counts[got.kind] = counts.get(got.kind, 0) + 1
            if got.kind == "trap":
                conformance_check.fail(f"process-event trapped: {got}; the event: {_shown(event)}")
            if got.kind == "limit":
                conformance_check.fail(f"not assessed: stopped by a resource limit: {got}")
    conformance_check.measure(events=len(inputs), generated=len(generated), outcomes=counts)


@check("ERR-002")
def test_malformed_bodies_give_the_right_error(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    if not conformance_inputs.malformed:
        conformance_check.not_applicable("the component supports no transaction events")
    findings = []
    with conformance_component.running() as run:
        for event in conformance_inputs.malformed:
            got = outcome(lambda e=event: run.instance.process_event(e))
            if got.kind in ("trap", "limit") or (got.kind == "err" and got.case not in GOOD_ERRORS):
                findings.append(f"{event.id}: {got}")
                if got.kind == "limit":
                    break
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
            if not _unsupported_ok(got):
                findings.append(f"unsupported {event.event_type} event {event.id}: {got}")
            if got.kind == "limit":
                break
    conformance_check.expect_none(findings)
