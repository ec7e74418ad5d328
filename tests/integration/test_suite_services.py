"""Without a service the checks that need one fail -- never pass -- and say how to provide it."""

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
