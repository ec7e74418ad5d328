"""Host regressions the suite must catch: missing services (the checks that need them fail and
say how to provide them) and a host that does not enforce fuel (LIM-005 fails)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.services import MODE_ENV, POSTGRES_URL_ENV, REDIS_URL_ENV
from sample_components.zoo.build import build_zoo
from tests.conformance_run import run_suite

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", ["env", "docker"])
def test_a_forced_mode_without_services_fails_the_service_checks(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (POSTGRES_URL_ENV, REDIS_URL_ENV, MODE_ENV):
        monkeypatch.delenv(var, raising=False)
    if mode == "docker":  # make sure no engine answers, whatever the machine has
        monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    baseline = build_zoo(names=["baseline"])["baseline"]
    run = run_suite(
        baseline, tmp_path, "--conformance-services", mode, "--conformance-level", "standard",
        "--conformance-examples", "5", env=dict(os.environ),
    )  # fmt: skip
    assert run.returncode == 1, run.output[-3000:]
    assert run.failed() == {"SBX-004"}  # the only check that needs PostgreSQL/Redis here
    (message,) = run.messages("SBX-004")
    assert "not assessed: no PostgreSQL for this run" in message
    assert POSTGRES_URL_ENV in message and "flowctl-conformance services" in message
    assert "blocking: SBX-004" in run.output


def test_a_host_that_does_not_enforce_fuel_fails_lim_005(tmp_path: Path) -> None:
    from tests.conformance_run import REPO

    baseline = build_zoo(names=["baseline"])["baseline"]
    env = {"PYTHONPATH": str(REPO)}
    run = run_suite(
        baseline, tmp_path, "-p", "tests.integration.unmetered_host",
        "--conformance-examples", "5", env=env,
    )  # fmt: skip
    assert run.failed() == {"LIM-005"}, run.output[-3000:]
    assert "max_fuel=1 was not stopped" in run.messages("LIM-005")[0]
    assert "was not stopped by max_fuel=1000000" in run.messages("LIM-005")[0]  # probe guest
    assert run.returncode == 1
    # and the run shows what was done to the host: nothing is certified
    assert run.result is not None, run.output[-3000:]
    assert any(
        "reference_host.limits.CallBudget.arm was replaced" in v for v in run.result["violations"]
    ), run.result["violations"]
    assert run.result["certified_tier"] is None
