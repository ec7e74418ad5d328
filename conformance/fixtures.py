"""Fixtures and hooks of the conformance suite (registered only when ``--component`` is given).

Layers: session fixtures that are expensive (the services, the loaded component, the inputs),
function fixtures that are cheap (the check's verdict helper).  None of them is an override
point for a certification: a fixture the suite's tests use that is defined anywhere else (a
``conftest.py``, a plugin) breaks the run's integrity and the run certifies nothing
(:mod:`conformance.integrity`).  Extend a run through the options instead (``--conformance-events``,
``--conformance-policy``, ``--conformance-db-setup`` ...), which the result records.

The hooks here make every trap seen: each test and each shared fixture runs under its own scope
of the run's :class:`~conformance.observe.TrapLedger`, and a check whose run met a trap fails
(as *not assessed*, naming the trap) even when its own logic found nothing wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from conformance.checks import BY_ID, Check
from conformance.config_choice import ConfigChoice
from conformance.harness import ComponentUnderTest
from conformance.inputs import Inputs, inputs_for
from conformance.integrity import SUITE_DIR, audit_items, tampered
from conformance.observe import TrapLedger
from conformance.outcomes import NotAssessable
from conformance.recorder import (
    CHECK_PROP,
    COMPONENT_PROP,
    INTEGRITY_PROP,
    MEASURE_PROP,
    SERVICES_PROP,
    START_KEY,
    START_STASH,
)
from conformance.remote import RemoteTarget, component_under_test
from conformance.results import NOT_APPLICABLE_PREFIX
from conformance.services import Services
from conformance.settings import SETTINGS_KEY, SuiteSettings
from conformance.start import RunStart

LEDGER_KEY = pytest.StashKey[TrapLedger]()


def _ledger(config: pytest.Config) -> TrapLedger:
    if LEDGER_KEY not in config.stash:
        config.stash[LEDGER_KEY] = TrapLedger()
    return config.stash[LEDGER_KEY]


def _start(config: pytest.Config) -> RunStart | None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and START_KEY in workerinput:
        return RunStart.from_json(workerinput[START_KEY])
    return config.stash.get(START_STASH, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each test's check id, and what collection shows of integrity, into its reports.

    They travel to the xdist controller with the reports.
    """
    violations = audit_items(items)
    for item in items:
        marker = item.get_closest_marker("conformance_check")
        if marker is not None and item.path.resolve().is_relative_to(SUITE_DIR):
            item.user_properties.append((CHECK_PROP, marker.args[0]))
        if violations:
            item.user_properties.append((INTEGRITY_PROP, violations))


def _trap_failure(item: pytest.Item, ledger: TrapLedger) -> str | None:
    scopes = {item.nodeid} | {f"fixture:{name}" for name in getattr(item, "fixturenames", ())}
    records = ledger.of(scopes)
    if not records:
        return None
    shown = "; ".join(str(r) for r in records[:3])
    more = f" (and {len(records) - 3} more)" if len(records) > 3 else ""
    return (
        f"not assessed: the component trapped or was stopped during this check's run, which is "
        f"a finding whatever the check concluded: {shown}{more}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Not assessed when the check could not observe; failed when its run met a trap."""
    ledger = _ledger(item.config)
    ledger.scope = item.nodeid
    try:
        result = yield
    except NotAssessable as exc:
        pytest.fail(f"not assessed: {exc}", pytrace=False)
    except pytest.skip.Exception:
        if (trap := _trap_failure(item, ledger)) is not None:
            pytest.fail(trap, pytrace=False)
        raise
    finally:
        ledger.scope = ""
        if found := tampered():
            item.user_properties.append((INTEGRITY_PROP, found))
    check = next((v for k, v in item.user_properties if k == CHECK_PROP), None)
    if check is not None and (trap := _trap_failure(item, ledger)) is not None:
        pytest.fail(f"{check}: {trap}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    """A shared fixture that runs the component: its traps are its own scope's."""
    ledger = _ledger(request.config)
    previous = ledger.scope
    if fixturedef.scope != "function":
        ledger.scope = f"fixture:{fixturedef.argname}"
    try:
        return (yield)
    finally:
        ledger.scope = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    """A fixture that cannot observe the component fails the test as not assessed.

    Here rather than in ``pytest_fixture_setup``: pytest caches a shared fixture's exception
    inside that hook and re-raises the cached one for every later test.
    """
    try:
        return (yield)
    except NotAssessable as exc:
        pytest.fail(f"not assessed: {exc}", pytrace=False)


class Verdict:
    """What a check test uses to fail with the check's remedy, measure, or step aside."""

    def __init__(self, check: Check, node: pytest.Item) -> None:
        self.check = check
        self._node = node

    def fail(self, finding: str) -> NoReturn:
        """Fail the check with ``finding`` and the check's remedy."""
        pytest.fail(f"{self.check.id}: {finding}\n  remedy: {self.check.remedy}", pytrace=False)

    def not_assessed(self, why: str) -> NoReturn:
        """Fail the check because it could not observe what it names."""
        pytest.fail(f"{self.check.id}: not assessed: {why}", pytrace=False)

    def expect_none(self, findings: list[str]) -> None:
        """Fail with every finding, if there are any."""
        if findings:
            more = len(findings) - 5
            shown = findings[:5] + ([f"... and {more} more"] if more > 0 else [])
            self.fail("; ".join(shown))

    def not_applicable(self, reason: str) -> NoReturn:
        """The check does not apply to this component (it neither passes nor blocks)."""
        pytest.skip(NOT_APPLICABLE_PREFIX + reason)

    def measure(self, **values: Any) -> None:
        """Record measurements (JSON values) under this check."""
        self._node.user_properties.append((MEASURE_PROP, {self.check.id: values}))

    def reproduce(self, event: Any, function: str = "process-event") -> None:
        """Record an input that failed, for the report's reproduction (at most 5 per check)."""
        from reference_host.jsonform import event_to_json

        kept: list[dict[str, Any]] = getattr(self, "_repro", [])
        if len(kept) < 5:
            kept.append({"function": function, "event": event_to_json(event)})
        self._repro = kept
        self.measure(repro=kept)


@pytest.fixture(scope="session")
def conformance_settings(request: pytest.FixtureRequest) -> SuiteSettings:
    """The run's resolved settings."""
    return request.config.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def conformance_services(conformance_settings: SuiteSettings) -> Iterator[Services]:
    """Real PostgreSQL and Redis (started on first use) and the HTTP fixture server."""
    services = Services(conformance_settings)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture(scope="session")
def conformance_component(
    request: pytest.FixtureRequest,
    conformance_settings: SuiteSettings,
    conformance_services: Services,
) -> Iterator[ComponentUnderTest]:
    """The component under test: the run's private copy, loaded, hash checked, inspected."""
    from reference_host.errors import FlowctlHostError

    start = _start(request.config)
    kwargs: dict[str, Any] = {"ledger": _ledger(request.config)}
    if start is not None:
        from pathlib import Path

        kwargs.update(component_path=Path(start.snapshot), expected_sha256=start.sha256)
        if start.config_text is not None and start.config_source is not None:
            kwargs["config"] = ConfigChoice(
                start.config_text, start.config_source, tuple(start.config_tried), derived=True
            )
    try:
        cut = component_under_test(conformance_settings, conformance_services, **kwargs)
    except (FlowctlHostError, OSError) as exc:
        pytest.fail(f"cannot run {conformance_settings.component}: {exc}", pytrace=False)
    try:
        yield cut
    finally:
        cut.close()


@pytest.fixture(scope="session")
def conformance_inputs(
    conformance_component: ComponentUnderTest, conformance_settings: SuiteSettings
) -> Inputs:
    """The events the checks feed the component (workload, unsupported types, malformed)."""
    try:
        return inputs_for(conformance_component.info, conformance_settings.events)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def conformance_check(request: pytest.FixtureRequest) -> Verdict:
    """The verdict helper of the current test's check (from its ``conformance_check`` mark)."""
    marker = request.node.get_closest_marker("conformance_check")
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid} has no conformance_check mark")
    settings = request.config.stash[SETTINGS_KEY]
    verdict = Verdict(BY_ID[marker.args[0]], request.node)
    if settings.remote:
        target = RemoteTarget.of(settings)
        why = target.not_applicable(marker.args[0])
        if why is not None:
            pytest.skip(f"{NOT_APPLICABLE_PREFIX}remotely: {why}")
        unseen = target.not_assessed(marker.args[0])
        if unseen is not None:
            verdict.not_assessed(unseen)
    return verdict


@pytest.fixture
def conformance_record(request: pytest.FixtureRequest) -> Any:
    """Record facts about the component / services into the result file."""

    def record(
        component: dict[str, Any] | None = None, services: dict[str, Any] | None = None
    ) -> None:
        if component:
            request.node.user_properties.append((COMPONENT_PROP, component))
        if services:
            request.node.user_properties.append((SERVICES_PROP, services))

    return record
