"""The documented CI gates (conformance/ci/*.yml): the commands they run work as written.

Each workflow's shell commands -- all but the install step -- run in bash, in a fresh directory,
with the CI variables set as the workflow describes, on the zoo's baseline: the job exits 0,
writes every report, the step summary gets the Markdown, and the signed certificate verifies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.reporting.attestation import keygen, verify
from tests.conformance_run import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CI = REPO / "conformance" / "ci"


def github_commands(doc: dict[str, Any]) -> list[str]:
    steps = doc["jobs"]["certify"]["steps"]
    return [s["run"] for s in steps if "run" in s and "pip install" not in s["run"]]


def gitlab_commands(doc: dict[str, Any]) -> list[str]:
    job = doc["flowctl-conformance"]
    return [c for c in job["script"] + job["after_script"] if "pip install" not in c]


@pytest.mark.parametrize("workflow", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_ci_gate_commands_certify_and_sign(workflow: str, tmp_path: Path) -> None:
    from sample_components.zoo.build import build_zoo

    doc = yaml.safe_load((CI / workflow).read_text())
    commands = github_commands(doc) if workflow.startswith("github") else gitlab_commands(doc)
    assert any("flowctl-conformance certify" in c for c in commands)
    component = build_zoo(names=["baseline"])["baseline"]
    private, public = keygen(tmp_path / "keys")
    (tmp_path / "config.json").write_text("{}")
    work = tmp_path / "job"
    work.mkdir()
    env = dict(os.environ, COMPONENT=str(component), CONFIG=str(tmp_path / "config.json"),
               LEVEL="basic", RUNNER_TEMP=str(tmp_path), SIGNING_KEY=private.read_text(),
               FLOWCTL_CONFORMANCE_SIGNING_KEY=str(private),
               GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
               PYTEST_ADDOPTS="--conformance-examples 5",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # fmt: skip
    for command in commands:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
    reports = work / "reports"
    for suffix in (".conformance.json", ".junit.xml", ".report.html", ".summary.md",
                   ".badge.svg", ".intoto.jsonl"):  # fmt: skip
        assert (reports / f"baseline{suffix}").is_file(), suffix
    assert verify(reports / "baseline.intoto.jsonl", public, component).tier == "basic"
    if workflow.startswith("github"):
        assert "flowctl conformance: CERTIFIED basic" in (tmp_path / "summary.md").read_text()
