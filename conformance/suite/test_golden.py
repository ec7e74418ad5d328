"""Golden files: the author's input events give exactly the author's expected outputs.

``--conformance-golden INPUT:EXPECTED``.  EXPECTED is JSONL in one of two shapes: one record per
input event, in input order -- ``{"input-id": ID, "ok": [events]}`` or ``{"input-id": ID, "err":
{case: value}}`` (compared per ``process-event`` call; an error is compared by its case only,
since messages are free text) -- or plain events (compared with the output of one
``process-batch`` over all inputs).  Over the wire (``--launch``, ``--processor-endpoint``) the
expected events are compared as flowctl.v1 carries them (``reference_host.rpc.codec``: metadata
is a map, so its pairs come back sorted by key and a repeated key keeps its last value).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.data import load_events
from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest, Running
from conformance.outcomes import outcome
from conformance.settings import SuiteSettings
from reference_host import types as t
from reference_host.errors import ValueConversionError
from reference_host.jsonform import event_from_json, event_to_json

check = pytest.mark.conformance_check


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _carried(event: t.Event, *, wire: bool) -> t.Event:
    """``event`` as the run's transport carries it (unchanged in-process)."""
    if not wire:
        return event
    from reference_host.rpc import codec

    return codec.decode(codec.encode(event))


def _carried_json(data: Any) -> Any:
    """An expected event's JSON form as the wire carries it (as given when it is no event)."""
    try:
        return event_to_json(_carried(event_from_json(data), wire=True))
    except ValueConversionError:
        return data


def _per_input(
    run: Running, given: Path, records: list[dict[str, Any]], *, wire: bool
) -> list[str]:
    events = load_events(given)
    if [r.get("input-id") for r in records] != [e.id for e in events]:
        return [f"{given.name}: the expected records do not list the input ids in input order"]
    findings = []
    for event, record in zip(events, records, strict=True):
        got = outcome(lambda e=event: run.instance.process_event(e))
        if got.kind == "ok":
            actual: dict[str, Any] = {"ok": [event_to_json(o) for o in got.value]}
        elif got.kind == "err":
            actual = {"err": got.case}
        else:
            actual = {"failure": str(got)}
        wanted = {k: v for k, v in record.items() if k != "input-id"}
        if wire and isinstance(wanted.get("ok"), list):
            wanted["ok"] = [_carried_json(o) for o in wanted["ok"]]
        if isinstance(wanted.get("err"), dict) and len(wanted["err"]) == 1:
            wanted["err"] = next(iter(wanted["err"]))
        if _canon(actual) != _canon(wanted):
            findings.append(
                f"{event.id}: got {_canon(actual)[:200]}, expected {_canon(wanted)[:200]}"
            )
    return findings


def _stream(run: Running, given: Path, expected_file: Path, *, wire: bool) -> list[str]:
    events = load_events(given)
    expected = [_carried(e, wire=wire) for e in load_events(expected_file)]
    got = outcome(lambda: run.instance.process_batch(events))
    if got.kind != "ok":
        return [f"{given.name}: process-batch gave {got}"]
    actual = [_canon(event_to_json(e)) for e in got.value]
    wanted = [_canon(event_to_json(e)) for e in expected]
    if actual == wanted:
        return []
    at = next(
        (i for i, (a, w) in enumerate(zip(actual, wanted, strict=False)) if a != w),
        min(len(actual), len(wanted)),
    )
    return [
        f"{given.name}: {len(actual)} events, expected {len(wanted)}; first difference at #{at}: "
        f"{actual[at][:200] if at < len(actual) else '(none)'} vs "
        f"{wanted[at][:200] if at < len(wanted) else '(none)'}"
    ]


@check("GOLD-001")
def test_golden_input_gives_the_expected_output(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_settings: SuiteSettings,
) -> None:
    if not conformance_settings.golden:
        conformance_check.not_applicable("no --conformance-golden INPUT:EXPECTED given")
    findings = []
    for given, expected_file in conformance_settings.golden:
        lines = expected_file.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        with conformance_component.running() as run:
            if records and all(isinstance(r, dict) and "input-id" in r for r in records):
                findings += _per_input(run, given, records, wire=conformance_settings.remote)
            else:
                findings += _stream(run, given, expected_file, wire=conformance_settings.remote)
    conformance_check.measure(files=len(conformance_settings.golden))
    conformance_check.expect_none(findings)
