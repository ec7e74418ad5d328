"""History independence: an event's answer does not depend on what the instance did before."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.outcomes import outcome
from conformance.passes import differences, reproducible, run_pass, shown
from conformance.settings import SuiteSettings
from reference_host import types as t
from reference_host.jsonform import event_to_json

check = pytest.mark.conformance_check


@check("HIST-001")
def test_answers_do_not_depend_on_the_instance_history(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
    conformance_settings: SuiteSettings,
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
    if conformance_settings.remote_contract == "flowctl.v1" and conformance_settings.remote:
        _over_streams(conformance_component, conformance_check, events)
        return
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


def _stream(component: ComponentUnderTest, events: list[t.Event], verdict: Verdict) -> Counter[str]:
    """What one Process stream holding ``events`` answered on a fresh host, as a multiset.

    Error events are answers too (the event's typed failure, in the reference host's
    convention).
    """
    with component.running() as run:
        got = outcome(lambda: run.instance.answers(events))
    if got.kind != "ok":
        verdict.not_assessed(f"a Process stream of {len(events)} workload events gave {got}")
    return Counter(json.dumps(event_to_json(e), sort_keys=True) for e in got.value)


def _over_streams(component: ComponentUnderTest, verdict: Verdict, events: list[t.Event]) -> None:
    """HIST-001 over flowctl.v1 alone: an instance's history is what its stream carried before.

    flowctl.v1 does not attribute outputs to inputs, so passes are compared as multisets of
    output events: a stream holding the workload twice must give exactly twice what a fresh
    stream of the workload gives (a dedupe set, a counter, a cache shows), and a stream of the
    workload in reverse order the same as one in order (state that depends on what came before).
    """
    once = _stream(component, events, verdict)
    twice = _stream(component, events + events, verdict)
    backwards = _stream(component, events[::-1], verdict)
    doubled = Counter({k: 2 * n for k, n in once.items()})
    findings = []
    if twice != doubled:
        findings.append(
            f"one stream holding the workload twice gave {sum(twice.values())} outputs, not "
            f"twice the {sum(once.values())} of a fresh stream; e.g. {_first(twice, doubled)}"
        )
    if backwards != once:
        findings.append(
            f"the workload in reverse order gave other outputs than in order; e.g. "
            f"{_first(backwards, once)}"
        )
    verdict.measure(events=len(events), streams=3, differing=len(findings))
    if findings and _stream(component, events, verdict) != once:
        verdict.not_assessed(
            "two fresh streams already answer the workload differently (DET-001): history "
            "dependence cannot be told apart"
        )
    if findings:
        verdict.fail(
            "answers depend on what the instance processed before (state hidden inside the "
            f"instance, over flowctl.v1 Process streams): {'; '.join(findings)}"
        )


def _first(got: Counter[str], wanted: Counter[str]) -> str:
    extra = sorted((got - wanted).elements())
    missing = sorted((wanted - got).elements())
    if extra:
        return f"unexpected {shown(extra[0])}"
    return f"missing {shown(missing[0])}" if missing else "(same outputs)"
