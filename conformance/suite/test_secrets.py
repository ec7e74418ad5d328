"""Secret hygiene: config values the schema marks secret never leave the component.

Not through log records, metric names or tags, output events, error messages or health-check
answers.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.configs import _mutations
from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest, Running
from conformance.inputs import Inputs, parse_schema
from conformance.outcomes import outcome
from reference_host.jsonform import event_to_json

check = pytest.mark.conformance_check
#: Names that suggest a secret (SEC-002 asks to mark such fields).
SECRET_NAME = re.compile(
    r"password|passwd|secret|token|api[_-]?key|apikey|credential|private[_-]?key|access[_-]?key"
    r"|auth",
    re.I,
)


def _fields(
    schema: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, property schema) of every property, nested objects included."""
    if not isinstance(schema, dict):
        return
    props = schema.get("properties")
    for name, prop in props.items() if isinstance(props, dict) else ():
        if isinstance(prop, dict):
            yield (*path, str(name)), prop
            yield from _fields(prop, (*path, str(name)))


def _marked(prop: dict[str, Any]) -> bool:
    return prop.get("writeOnly") is True or prop.get("format") == "password"


def _get(config: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


def _set(config: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(config))
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else {}
    node[path[-1]] = value
    return out


def _forms(secret: str) -> list[str]:
    """The secret and the encodings a leak commonly takes."""
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


class Tap:
    """Every text the component hands out.

    Log records, metric names and tags, outputs, errors, health-check answers (log and metric
    calls as the guest made them, before any filtering).
    """

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def observe(self, function: str, args: tuple[Any, ...]) -> None:
        """HostContext observer: keep what logging and metrics calls carry."""
        if function.startswith(("logging.", "metrics.")):
            self.texts.append((function, json.dumps(args, default=repr)))

    def answer(self, what: str, got: Any) -> None:
        """Keep an answer of the component."""
        if got.kind == "ok" and isinstance(got.value, list):
            text = json.dumps([event_to_json(e) for e in got.value])
        elif got.kind == "ok" and got.value is not None:
            text = repr(got.value)
        else:
            text = str(got.value if got.kind == "err" else got)
        self.texts.append((what, text))

    def leaks(self, secret: str) -> list[tuple[str, str]]:
        """(where, text) of every kept text that contains the secret in some form."""
        forms = [f.lower() for f in _forms(secret) if len(f) >= 6]
        return [(w, t) for w, t in self.texts if any(f in t.lower() for f in forms)]


def _exercise(run: Running, inputs: Inputs, config: str, invalid: list[str]) -> Tap | None:
    """Initialize with ``config`` and run everything through ``run``; None if refused."""
    tap = Tap()
    run.instance.context.observer = tap.observe
    got = outcome(lambda: run.instance.initialize(config))
    tap.answer("initialize", got)
    if got.kind != "ok":
        return None
    for event in inputs.workload:
        tap.answer(
            f"process-event({event.id})", outcome(lambda e=event: run.instance.process_event(e))
        )
    batch = list(inputs.sample(10))
    tap.answer("process-batch", outcome(lambda: run.instance.process_batch(batch)))
    tap.answer("health-check", outcome(run.instance.health_check))
    for text in [config, *invalid]:
        tap.answer("validate-config", outcome(lambda c=text: run.instance.validate_config(c)))
    tap.answer("shutdown", outcome(run.instance.shutdown))
    return tap


def _masked(text: str, secret: str) -> str:
    for form in _forms(secret):
        text = re.sub(re.escape(form), "***", text, flags=re.I)
    return text[:200]


def _check_leaks(
    component: ComponentUnderTest, inputs: Inputs, fields: list[tuple[str, ...]]
) -> tuple[list[str], dict[str, Any]]:
    """What leaked where, with canary values in ``fields`` and with the config's own values."""
    base = json.loads(component.processor_config)
    if not isinstance(base, dict):
        return [], {"assessed": False, "why": "the certification config is not a JSON object"}
    canaries = {path: f"flowctlcanary{secrets.token_hex(8)}" for path in fields}
    config = base
    for path, canary in canaries.items():
        config = _set(config, path, canary)
    own = {p: v for p in fields if isinstance(v := _get(base, p), str) and len(v) >= 6}
    schema = parse_schema(component.info.configuration_schema)
    findings: list[str] = []
    runs = 0
    for text, values in ((json.dumps(config), canaries), (component.processor_config, own)):
        if not values:
            continue
        keeps = [json.dumps(m) for m in _mutations(json.loads(text))]  # still carrying them
        invalid = [m for m in keeps if all(v in m for v in values.values())][:2]
        with component.running(initialize=False, config=text) as run:
            tap = _exercise(run, inputs, text, invalid)
        if tap is None:
            continue  # initialize refused this config
        for bad in invalid[:1]:  # the error of an initialize that refuses it must not echo it
            with component.running(initialize=False, config=bad) as run:
                tap.answer(
                    "initialize (refused config)", outcome(lambda c=bad: run.instance.initialize(c))
                )
        runs += 1
        for path, secret in values.items():
            for where, leaked in tap.leaks(secret)[:3]:
                findings.append(
                    f"the value of secret config field {'.'.join(path)!r} appears in {where}: "
                    f"{_masked(leaked, secret)}"
                )
    facts = {"fields": [".".join(p) for p in fields], "runs": runs,
             "schema": schema is not None}  # fmt: skip
    return findings, facts


@check("SEC-001")
def test_secret_config_values_never_leave_the_component(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    fields = [path for path, prop in _fields(schema) if _marked(prop)]
    if not fields:
        conformance_check.not_applicable(
            "the configuration-schema marks no field secret (writeOnly: true or format: password)"
        )
    findings, facts = _check_leaks(conformance_component, conformance_inputs, fields)
    conformance_check.measure(**facts)
    if not facts.get("runs"):
        conformance_check.not_assessed(
            "initialize accepted neither the certification config with canary values in the "
            f"secret fields {facts['fields']} nor the certification config's own values"
        )
    conformance_check.expect_none(findings)


@check("SEC-002")
def test_secret_looking_config_fields_are_marked(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    schema = parse_schema(conformance_component.info.configuration_schema)
    unmarked = [
        path for path, prop in _fields(schema) if SECRET_NAME.search(path[-1]) and not _marked(prop)
    ]
    if not unmarked:
        conformance_check.not_applicable("no unmarked config field has a secret-looking name")
    findings = [
        f"config field {'.'.join(p)!r} looks secret but the schema does not mark it (add "
        '"writeOnly": true, or "format": "password", so hosts and this suite treat it as one)'
        for p in unmarked
    ]
    leaks, facts = _check_leaks(conformance_component, conformance_inputs, unmarked)
    conformance_check.measure(unmarked=[".".join(p) for p in unmarked], **facts)
    conformance_check.expect_none(findings + leaks)
