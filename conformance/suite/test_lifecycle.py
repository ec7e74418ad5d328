"""Lifecycle: get-info, validate-config, initialize, health-check, before/after, re-initialize."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conformance.configs import NOT_JSON, invalid_configs, valid_configs
from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs, parse_schema
from conformance.outcomes import outcome
from conformance.passes import differences, reproducible, run_pass, shown
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
                "configuration_schema": info.configuration_schema,
            },
            "exports": list(conformance_component.report.exports),
            "functions": dict(conformance_component.report.functions),
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
    if schema is not None and (problem or not generated):
        conformance_check.not_assessed(
            f"no valid configs could be generated from the configuration-schema: "
            f"{problem or 'the generator produced none'} (is hypothesis-jsonschema installed?)"
        )
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
    configs, problem = invalid_configs(schema, conformance_settings.examples)
    if schema is not None and (problem or len(configs) <= len(NOT_JSON)):
        conformance_check.not_assessed(
            f"no schema-invalid JSON configs could be generated: {problem or 'none found'}"
        )
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


#: LIFE-004: configs tried on initialize, each on a fresh instance (non-JSON ones, then JSON ones
#: the schema rejects: a property of another type or missing, an unknown property...).
INITIALIZE_INVALID = 10
#: LIFE-004: valid configs the schema allows that initialize must accept (fresh instance each).
INITIALIZE_VALID = 8


@check("LIFE-004")
def test_initialize_succeeds_or_fails_typed(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_settings: SuiteSettings,
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    findings = []
    with conformance_component.running(initialize=False) as run:
        got = outcome(lambda: run.instance.initialize(run.config))
        if got.kind != "ok":
            findings.append(f"initialize(certification config {run.config[:200]!r}) gave {got}")
    valid, _ = valid_configs(schema, conformance_settings.examples)
    refused_for_grants = []
    for config in [c for c in valid if c != run.config][:INITIALIZE_VALID]:
        with conformance_component.running(initialize=False) as run:
            got = outcome(lambda c=config: run.instance.initialize(c))
            if (got.kind, got.case) == ("err", "configuration-error") and run.refusals():
                # the config names something the host's grants refuse (a table, a URL): the
                # component said so, typed; that is the environment's answer, not a defect
                refused_for_grants.append(config[:200])
            elif got.kind != "ok":
                findings.append(
                    f"initialize({config[:200]!r}), a config the configuration-schema allows "
                    f"(and validate-config is asked to accept), gave {got}"
                    + ("" if got.failed else " although the host refused nothing it asked for")
                )
    conformance_check.measure(valid_configs_refused_for_grants=refused_for_grants)
    invalid, problem = invalid_configs(schema, conformance_settings.examples)
    json_invalid = invalid[len(NOT_JSON) :]
    if schema is not None and not json_invalid:
        conformance_check.not_assessed(
            f"no schema-invalid JSON configs could be generated: {problem or 'none found'}"
        )
    tried = [*NOT_JSON[:2], *json_invalid[: INITIALIZE_INVALID - 2]]
    for config in tried:
        with conformance_component.running(initialize=False) as run:
            got = outcome(lambda c=config: run.instance.initialize(c))
            if (got.kind, got.case) != ("err", "configuration-error"):
                findings.append(
                    f"initialize({config[:200]!r}), a config the configuration-schema rejects, "
                    f"gave {got}"
                )
    conformance_check.measure(invalid_configs_tried=len(tried))
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
    """Every sampled event is refused before initialize with configuration-error.

    One of each event type first, by process-event and process-batch; after initialize at
    least one of them gets another answer (else the refusal shows nothing).
    """
    events = conformance_inputs.spread(12)
    if not events:
        conformance_check.not_assessed("no events to send")
    findings, gated = [], 0
    with conformance_component.running(initialize=False) as run:
        for event in events:
            for function, arg in (("process-event", event), ("process-batch", [event])):
                got = outcome(lambda f=function, a=arg: run.instance.call_unchecked(f, a))
                if got.kind == "limit":
                    conformance_check.not_assessed(f"{function} before initialize: {got}")
                if (got.kind, got.case) != ("err", "configuration-error"):
                    findings.append(
                        f"{function}({event.id}, a {event.event_type} event) before initialize "
                        f"gave {got}; expected err(configuration-error)"
                    )
        got = outcome(lambda: run.instance.initialize(run.config))
        if got.kind != "ok":
            conformance_check.not_assessed(f"initialize after the refusals gave {got}")
        for event in events:
            after = outcome(lambda e=event: run.instance.process_event(e))
            if after.kind == "limit":
                conformance_check.not_assessed(f"{event.id} after initialize: {after}")
            gated += (after.kind, after.case) != ("err", "configuration-error")
    conformance_check.measure(events=len(events), answered_otherwise_after_initialize=gated)
    conformance_check.expect_none(findings)
    if not gated:
        conformance_check.not_assessed(
            "every sampled event is refused with configuration-error after initialize too: "
            "the refusal before initialize shows nothing"
        )


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
        for config in [run.config, *invalid_configs(schema, 0)[0]]:
            got = outcome(lambda c=config: run.instance.validate_config(c))
            if got.failed:
                findings.append(f"validate-config({config[:200]!r}): {got}")
        got = outcome(lambda: run.instance.call_unchecked("health-check"))
        if got.failed:  # orchestrators may poll before the processor is configured
            findings.append(f"health-check before initialize: {got}")
        got = outcome(run.instance.shutdown)
        if got.failed:
            findings.append(f"shutdown before initialize: {got}")
    with conformance_component.running() as run:
        got = outcome(run.instance.shutdown)
        if got.failed:
            findings.append(f"shutdown after initialize: {got}")
        elif event is not None:  # a late call after shutdown gets an answer, not a trap
            for function, arg in (
                ("process-event", event), ("health-check", None), ("get-info", None),
            ):  # fmt: skip
                args = () if arg is None else (arg,)
                late = outcome(lambda f=function, a=args: run.instance.call_unchecked(f, *a))
                if late.failed:
                    findings.append(f"{function} after shutdown: {late}")
    conformance_check.expect_none(findings)


@check("LIFE-008")
def test_a_fresh_instance_initializes_again_with_the_same_config(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    """The recycle scenario: a fresh instance on the state a discarded one left.

    An instance works, then is discarded without shutdown (as after a trap); a fresh one on the
    state it left (its database schema, its key-value namespace) must initialize with the same
    config and answer where the first one answered ok.
    """
    events = conformance_inputs.sample(10)
    with conformance_component.external_state() as state:
        with conformance_component.running(state=state) as first:
            before = run_pass(first.instance, events)
        with conformance_component.running(state=state, initialize=False) as second:
            got = outcome(lambda: second.instance.initialize(second.config))
            if got.kind != "ok":
                conformance_check.fail(
                    f"a fresh instance on the state a previous instance left (discarded without "
                    f"shutdown, as after a trap) refuses to initialize with the same config: {got}"
                )
            after = run_pass(second.instance, events)
    stateless = state.database_url is None and state.key_value_url is None
    findings = []
    for event_id, was, now in differences(before, after):
        if stateless or (was.startswith("[") and not now.startswith("[")):
            findings.append(
                f"{event_id}: the recycled instance answers {shown(now)}, the first one "
                f"answered {shown(was)}"
            )
    conformance_check.measure(events=len(events), external_state=not stateless)
    if findings and not reproducible(conformance_component, events):
        conformance_check.not_assessed(
            "two fresh instances already answer these events differently (DET-001)"
        )
    conformance_check.expect_none(findings)


@check("LIFE-009")
def test_lifecycle_calls_between_events_change_nothing(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
    conformance_settings: SuiteSettings,
) -> None:
    """Lifecycle calls between process calls change no later answer.

    validate-config (with other valid configs and invalid ones), get-info and health-check.
    """
    events = conformance_inputs.workload
    if len(events) < 2:
        conformance_check.not_assessed("the workload has fewer than two events")
    half = len(events) // 2
    schema = parse_schema(conformance_component.info.configuration_schema)
    valid, _problem = valid_configs(schema, min(5, conformance_settings.examples))
    invalid, _ = invalid_configs(schema, 3)
    probes = [c for c in valid if c != conformance_component.processor_config][:5]
    probes += invalid[len(NOT_JSON) : len(NOT_JSON) + 2] + list(NOT_JSON[:1])
    with conformance_component.external_state() as state:
        with conformance_component.running(state=state) as run:
            run_pass(run.instance, events[:half])
            for config in probes:
                outcome(lambda c=config: run.instance.validate_config(c))
            outcome(run.instance.get_info)
            outcome(run.instance.health_check)
            disturbed = run_pass(run.instance, events[half:])
        state.reset()
        with conformance_component.running(state=state) as run:
            run_pass(run.instance, events[:half])
            quiet = run_pass(run.instance, events[half:])
    findings = [
        f"{event_id}: after validate-config / get-info / health-check it answers {shown(now)}; "
        f"without them {shown(was)}"
        for event_id, was, now in differences(quiet, disturbed)
    ]
    conformance_check.measure(
        events=len(events), configs_validated=len(probes), changed=len(findings)
    )
    if findings and not reproducible(conformance_component, events):
        conformance_check.not_assessed(
            "two fresh instances already answer the workload differently (DET-001)"
        )
    conformance_check.expect_none(findings)
