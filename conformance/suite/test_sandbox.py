"""Capability sandboxing: declared vs imported vs called; no WASI; denials handled; host probes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs
from conformance.outcomes import outcome
from conformance.services import Services
from conformance.settings import SuiteSettings
from reference_host import interfaces as names
from reference_host.policy import Policy

check = pytest.mark.conformance_check

#: Grants that refuse every call a component can make (SBX-003): no domain, no table, a
#: key-value store that holds one key of one byte.
DENY_ALL: dict[str, Any] = {
    "http": {"allowed_domains": []},
    "database": {"allowed_tables": []},
    "key_value": {"max_keys": 1, "max_value_bytes": 1},
}
NETWORK = {names.HTTP_CLIENT: "http", names.DATABASE: "database", names.KEY_VALUE: "key_value"}


def _denials_seen(run: Any) -> int:
    """Calls the host refused, plus permission questions it answered no."""
    return int(run.refusals())


def _grants(component: ComponentUnderTest) -> Policy:
    return Policy.default_for(component.known_declared)


@check("SBX-001")
def test_imports_only_declared_capabilities(
    conformance_component: ComponentUnderTest, conformance_check: Verdict
) -> None:
    declared = conformance_component.known_declared
    grants = _grants(conformance_component)
    imported = conformance_component.report.flowctl_imports
    conformance_check.measure(declared=declared, imported=[names.short(i) for i in imported])
    conformance_check.expect_none(
        [
            f"imports {i} without declaring {names.short(i)!r} in capabilities-required"
            for i in imported
            if not grants.grants(i)
        ]
    )


@check("SBX-002")
def test_imports_no_wasi(
    conformance_component: ComponentUnderTest, conformance_check: Verdict
) -> None:
    conformance_check.expect_none(
        [f"imports {name}" for name in conformance_component.report.wasi_imports]
    )


@check("SBX-003")
def test_denied_calls_are_handled_without_trapping(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    policy = conformance_component.base_policy
    network = [
        key
        for iface, key in NETWORK.items()
        if iface in conformance_component.report.flowctl_imports and policy.grants(iface)
    ]
    if not network:
        conformance_check.not_applicable("the component is granted no http, database or key-value")
    caps = policy.model_dump()["capabilities"]
    for key in network:
        caps[key].update(DENY_ALL[key])
    findings, denied, denials = [], 0, []
    with conformance_component.running(capabilities=caps, initialize=False) as run:
        got = outcome(lambda: run.instance.initialize(run.config))
        if got.failed:
            conformance_check.fail(f"initialize under deny-all grants: {got}")
        if got.kind == "err":  # refusing to start without its grants is a typed answer
            conformance_check.measure(
                initialize_under_deny_all=str(got), denials=_denials_seen(run)
            )
            if not _denials_seen(run):
                conformance_check.not_assessed(
                    f"initialize under deny-all grants answered {got} without asking the host "
                    "for anything: no denial was observed"
                )
            return
        sample = conformance_inputs.sample(10)
        calls: list[tuple[str, Callable[[], Any]]] = [
            (f"process-event({e.id})", functools.partial(run.instance.process_event, e))
            for e in sample
        ]
        calls.append((f"process-batch of {len(sample)}",
                      lambda: run.instance.process_batch(list(sample))))  # fmt: skip
        calls.append(("health-check", run.instance.health_check))
        for what, call in calls:
            got = outcome(call)
            denials = run.denials()
            if got.kind == "trap" and _denials_seen(run) > denied:
                last = repr(denials[-1]) if denials else "a permission question"
                findings.append(f"after the host denied {last}, {what} trapped: {got}")
            denied = _denials_seen(run)
            if got.kind == "limit":
                break
    conformance_check.measure(
        denials=denied,
        denied_capabilities=network,
        denied_calls=[repr(d)[:300] for d in denials[:20]],
    )
    conformance_check.expect_none(findings)
    if not denied:
        conformance_check.not_assessed(
            f"no call was denied under deny-all grants of {', '.join(network)} (initialize, "
            "10 events, a batch, health-check): how denials are handled was not observed"
        )


@check("SBX-004")
def test_host_blocks_the_probe_corpus(
    conformance_services: Services,
    conformance_check: Verdict,
    conformance_record: Any,
    conformance_settings: SuiteSettings,
    tmp_path: Path,
) -> None:
    conformance_record(services=conformance_services.origins())
    if conformance_settings.launch is not None:  # through the probe guests on the host under test
        from conformance.wire_probes import run_corpus_through

        counts, failures = run_corpus_through(
            conformance_settings.launch, conformance_services,
            ready_timeout_s=conformance_settings.launch_timeout, workdir=tmp_path,
            contract=conformance_settings.remote_contract,
        )  # fmt: skip
        conformance_check.measure(probes_through_guests=counts)
    else:
        from conformance.probes import run_corpus

        probes_sent_live, failures = run_corpus(conformance_services)
        conformance_check.measure(probes_sent_live=probes_sent_live)
    conformance_check.expect_none(failures)


@check("SBX-005")
def test_granted_capabilities_are_used(
    conformance_component: ComponentUnderTest,
    conformance_check: Verdict,
    conformance_inputs: Inputs,
) -> None:
    grants = _grants(conformance_component)
    imported = set(conformance_component.report.flowctl_imports)
    findings = [
        f"declares {names.short(i)!r} but does not import it"
        for i in names.CAPABILITIES
        if grants.grants(i) and i not in imported
    ]
    with conformance_component.running() as run:
        for event in conformance_inputs.workload:
            if outcome(lambda e=event: run.instance.process_event(e)).kind == "limit":
                break  # the limit checks report it; the calls so far are what was used
        outcome(run.instance.health_check)
        outcome(run.instance.shutdown)
        calls = dict(run.instance.context.calls)
    used = {key.split(".")[0] for key in calls}
    findings += [
        f"imports {names.short(i)!r} but never called it (initialize, the workload, "
        "health-check, shutdown)"
        for i in sorted(imported)
        if names.short(i) not in used
    ]
    conformance_check.measure(calls=calls)
    conformance_check.expect_none(findings)
