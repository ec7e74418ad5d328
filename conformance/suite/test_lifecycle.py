"""Lifecycle: get-info, validate-config, initialize, health-check, before/after, re-initialize."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conformance.configs import invalid_configs, valid_configs
from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest, outcome
from conformance.inputs import Inputs, parse_schema
from conformance.settings import SuiteSettings
from reference_host import types as t

check = pytest.mark.conformance_check

SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?"
)


@check("LIFE-001")
def test_get_info_is_well_formed(
    conformance_component: ComponentUnderTest, conformance_check: Verdict, conformance_record: Any
) -> None:
    info = conformance_component.info
    conformance_record(
        component={
            "info": {
                "name": info.name,
                "version": info.version,
                "author": info.author,
                "description": info.description,
                "supported_event_types": [str(x) for x in info.supported_event_types],
                "output_event_types": [str(x) for x in info.output_event_types],
                "capabilities_required": list(info.capabilities_required),
            }
        }
    )
    findings = [
        f"{field} is empty"
        for field in ("name", "version", "author", "description")
        if not getattr(info, field).strip()
    ]
    if info.version.strip() and not SEMVER.fullmatch(info.version):
        findings.append(f"version {info.version!r} is not a semantic version (e.g. 1.2.0)")
    if not info.supported_event_types:
        findings.append("supported-event-types is empty")
    known = conformance_component.known_declared
    findings += [
        f"capabilities-required names {name!r}, which is no capability"
        for name in info.capabilities_required
        if name not in known
    ]
    if info.configuration_schema is not None:
        import jsonschema

        try:
            schema = json.loads(info.configuration_schema)
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except (ValueError, jsonschema.SchemaError) as exc:
            findings.append(f"configuration-schema is not a JSON Schema: {str(exc)[:200]}")
    conformance_check.expect_none(findings)


@check("LIFE-002")
def test_validate_config_accepts_valid_configs(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_settings: SuiteSettings,
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    generated, problem = valid_configs(schema, conformance_settings.examples)
    configs = [conformance_component.processor_config, *generated]
    findings = []
    with conformance_component.running(initialize=False) as run:
        for config in configs:
            got = outcome(lambda c=config: run.instance.validate_config(c))
            if got.kind != "ok":
                findings.append(f"validate-config({config[:200]!r}) gave {got}")
    conformance_check.measure(valid_configs_tried=len(configs), generation_problem=problem)
    conformance_check.expect_none(findings)


@check("LIFE-003")
def test_validate_config_rejects_invalid_configs(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_settings: SuiteSettings,
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    configs = invalid_configs(schema, conformance_settings.examples)
    findings = []
    with conformance_component.running(initialize=False) as run:
        for config in configs:
            got = outcome(lambda c=config: run.instance.validate_config(c))
            if (got.kind, got.case) != ("err", "configuration-error"):
                findings.append(f"validate-config({config[:200]!r}) gave {got}")
            if got.kind == "limit":
                break
    conformance_check.measure(invalid_configs_tried=len(configs))
    conformance_check.expect_none(findings)


@check("LIFE-004")
def test_initialize_succeeds_or_fails_typed(
    conformance_component: ComponentUnderTest, conformance_check: Verdict
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    findings = []
    with conformance_component.running(initialize=False) as run:
        got = outcome(lambda: run.instance.initialize(run.config))
        if got.kind != "ok":
            findings.append(f"initialize(certification config {run.config[:200]!r}) gave {got}")
    for config in invalid_configs(schema, 0)[:3]:
        with conformance_component.running(initialize=False) as run:
            got = outcome(lambda c=config: run.instance.initialize(c))
            if (got.kind, got.case) != ("err", "configuration-error"):
                findings.append(f"initialize({config[:200]!r}) gave {got}")
    conformance_check.expect_none(findings)


@check("LIFE-005")
def test_health_check_answers_after_initialize(
    conformance_component: ComponentUnderTest, conformance_check: Verdict
) -> None:
    with conformance_component.running() as run:
        got = outcome(run.instance.health_check)
    if got.kind != "ok" or not isinstance(got.value.status, t.HealthState):
        conformance_check.fail(f"health-check after initialize gave {got}")
    conformance_check.measure(status=str(got.value.status), details=dict(got.value.details))


@check("LIFE-006")
def test_process_before_initialize_is_refused(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    event = (conformance_inputs.workload or conformance_inputs.unsupported)[0]
    findings = []
    with conformance_component.running(initialize=False) as run:
        for function, arg in (("process-event", event), ("process-batch", [event])):
            got = outcome(lambda f=function, a=arg: run.instance.call_unchecked(f, a))
            if got.kind != "err":
                findings.append(f"{function} before initialize gave {got}")
    conformance_check.expect_none(findings)


@check("LIFE-007")
def test_validate_config_shutdown_and_late_calls_never_trap(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    event = next(iter(conformance_inputs.workload or conformance_inputs.unsupported), None)
    findings = []
    with conformance_component.running(initialize=False) as run:
        for config in [run.config, *invalid_configs(schema, 0)]:
            got = outcome(lambda c=config: run.instance.validate_config(c))
            if got.kind in ("trap", "limit"):
                findings.append(f"validate-config({config[:200]!r}): {got}")
        got = outcome(run.instance.shutdown)
        if got.kind in ("trap", "limit"):
            findings.append(f"shutdown before initialize: {got}")
    with conformance_component.running() as run:
        got = outcome(run.instance.shutdown)
        if got.kind in ("trap", "limit"):
            findings.append(f"shutdown after initialize: {got}")
        elif event is not None:  # a late call after shutdown gets an answer, not a trap
            for function, arg in (("process-event", event), ("health-check", None)):
                args = () if arg is None else (arg,)
                late = outcome(lambda f=function, a=args: run.instance.call_unchecked(f, *a))
                if late.kind in ("trap", "limit"):
                    findings.append(f"{function} after shutdown: {late}")
    conformance_check.expect_none(findings)


@check("LIFE-008")
def test_a_fresh_instance_initializes_again_with_the_same_config(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    events = conformance_inputs.sample(5)
    runs = []
    for attempt in range(2):
        with conformance_component.running(initialize=False) as run:
            got = outcome(lambda r=run: r.instance.initialize(r.config))
            if got.kind != "ok":
                conformance_check.fail(f"initialize of fresh instance #{attempt + 1} gave {got}")
            answers = []
            for event in events:
                got = outcome(lambda e=event, r=run: r.instance.process_event(e))
                answers.append(got.kind if got.kind in ("trap", "limit") else str(got))
                if got.kind == "limit":
                    break  # LIM-00x report it; what matters here is that both runs agree
            runs.append(answers)
            outcome(run.instance.shutdown)
    if runs[0] != runs[1]:
        conformance_check.fail(
            f"the second fresh instance answers differently: {runs[1]} vs {runs[0]}"
        )
