"""History independence: an event's answer does not depend on what the instance did before."""

from __future__ import annotations

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.passes import differences, reproducible, run_pass, shown

check = pytest.mark.conformance_check


@check("HIST-001")
def test_answers_do_not_depend_on_the_instance_history(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    """Four passes over the workload, compared event by event.

    The component's external state (database schema, key-value namespace: legitimate state)
    is reset before each pass: on one long-lived instance in
    workload order twice, then in reverse order; on a fresh instance in reverse order.  The
    second pass must equal the first, the long-lived reverse pass the fresh one -- event by
    event.  What differs is state hidden inside the instance: counters, caches, dedupe sets,
    random-number state, module globals.
    """
    events = list(conformance_inputs.workload)
    if len(events) < 2:
        conformance_check.not_assessed("the workload has fewer than two events")
    backwards = events[::-1]
    with conformance_component.external_state() as state:
        with conformance_component.running(state=state) as run:
            first = run_pass(run.instance, events)
            state.reset()
            second = run_pass(run.instance, events)
            state.reset()
            reversed_old = run_pass(run.instance, backwards)
        state.reset()
        with conformance_component.running(state=state) as run:
            reversed_fresh = run_pass(run.instance, backwards)
    findings = [
        f"{event_id}: the second pass on the same instance answers {shown(now)}, the first "
        f"answered {shown(was)}"
        for event_id, was, now in differences(first, second)
    ]
    findings += [
        f"{event_id}: a long-lived instance (reverse order) answers {shown(now)}, a fresh one "
        f"{shown(was)}"
        for event_id, was, now in differences(reversed_fresh, reversed_old)
    ]
    conformance_check.measure(events=len(events), passes=4, differing=len(findings))
    if findings and not reproducible(conformance_component, events):
        conformance_check.not_assessed(
            "two fresh instances already answer the workload differently (DET-001): history "
            "dependence cannot be told apart"
        )
    if findings:
        conformance_check.fail(
            "answers depend on what the instance processed before (state hidden inside the "
            f"instance): {'; '.join(findings[:3])}"
            + (f"; ... {len(findings) - 3} more" if len(findings) > 3 else "")
        )
