"""Fixtures of the conformance suite (registered as a plugin only when ``--component`` is given).

Layers: session fixtures that are expensive (the services, the loaded component, the inputs),
function fixtures that are cheap (a fresh instance per check, the check's verdict helper).
Each is an override point: a ``conftest.py`` may redefine ``conformance_services`` (e.g. to
reuse servers it manages) or ``conformance_inputs`` (its own workload).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.checks import BY_ID, Check
from conformance.harness import ComponentUnderTest, NotAssessable, Services
from conformance.inputs import Inputs, inputs_for
from conformance.plugin import SETTINGS_KEY
from conformance.recorder import CHECK_PROP, COMPONENT_PROP, MEASURE_PROP, SERVICES_PROP
from conformance.results import NOT_APPLICABLE_PREFIX
from conformance.settings import SuiteSettings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put each test's check id into its reports (they travel to the xdist controller)."""
    for item in items:
        marker = item.get_closest_marker("conformance_check")
        if marker is not None:
            item.user_properties.append((CHECK_PROP, marker.args[0]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A check that cannot observe the component fails with the reason, not a traceback."""
    try:
        return (yield)
    except NotAssessable as exc:
        pytest.fail(f"not assessed: {exc}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    """The same for a fixture that runs the component (e.g. a shared workload run)."""
    try:
        return (yield)
    except NotAssessable as exc:
        pytest.fail(f"not assessed: {exc}", pytrace=False)


class Verdict:
    """What a check test uses to fail with the check's remedy, measure, or step aside."""

    def __init__(self, check: Check, node: pytest.Item) -> None:
        self.check = check
        self._node = node

    def fail(self, finding: str) -> None:
        """Fail the check with ``finding`` and the check's remedy."""
        pytest.fail(f"{self.check.id}: {finding}\n  remedy: {self.check.remedy}", pytrace=False)

    def expect_none(self, findings: list[str]) -> None:
        """Fail with every finding, if there are any."""
        if findings:
            more = len(findings) - 5
            shown = findings[:5] + ([f"... and {more} more"] if more > 0 else [])
            self.fail("; ".join(shown))

    def not_applicable(self, reason: str) -> None:
        """The check does not apply to this component (it neither passes nor blocks)."""
        pytest.skip(NOT_APPLICABLE_PREFIX + reason)

    def measure(self, **values: Any) -> None:
        """Record measurements (JSON values) under this check."""
        self._node.user_properties.append((MEASURE_PROP, {self.check.id: values}))


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
    conformance_settings: SuiteSettings, conformance_services: Services
) -> ComponentUnderTest:
    """The component under test, loaded and inspected once."""
    from reference_host.errors import FlowctlHostError

    try:
        return ComponentUnderTest(conformance_settings, conformance_services)
    except (FlowctlHostError, OSError) as exc:
        pytest.fail(f"cannot run {conformance_settings.component}: {exc}", pytrace=False)


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
    return Verdict(BY_ID[marker.args[0]], request.node)


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
