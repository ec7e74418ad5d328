"""Host regression testing: the suite over gRPC (``--launch``, ``--processor-endpoint``) and the
zoo as a host's exam (``flowctl-conformance host-certify``).

Our own ``flowctl-host serve`` must pass; three deliberately broken hosts (tests/broken_hosts:
component errors swallowed as ok, no fuel or time limit, the design document's substring SQL
rule) must fail, named by the members and enforcement classes that caught them.  Real processes
throughout: each launched host is a ``flowctl-host serve`` subprocess on 127.0.0.1, stopped by
PID.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.host_certify import host_certify, summary
from tests.conformance_run import REPO, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVE = "serve --pipeline {policy} --component {component} --port {port} --allow-refused-config"
OURS = f"flowctl-host {SERVE}"


def broken(name: str) -> str:
    return f"{sys.executable} -m tests.broken_hosts.{name} {SERVE}"


def test_our_host_passes_the_exam() -> None:
    report = host_certify(
        OURS, only=["baseline", "infinite-loop", "wrong-error-case", "traps-on-malformed-body"],
        samples=False, jobs=2,
    )  # fmt: skip
    assert report.passed, summary(report)
    by_name = {m.name: m for m in report.members}
    assert by_name["infinite-loop"].expectations[0].check == "LIM-002"
    assert all(m.held for m in report.members)
    classes = report.classes()
    assert not classes["resource limits"]["broken"] and classes["resource limits"]["held"]
    assert classes["capability sandboxing"] == {"held": ["baseline:SBX-004"], "broken": []}
    assert by_name["baseline"].certified  # at standard, the remote cap


def test_a_host_that_swallows_errors_is_caught_by_the_control_and_the_members() -> None:
    report = host_certify(
        broken("swallows_errors"), only=["baseline", "wrong-error-case"], samples=False, jobs=2
    )
    assert not report.passed, summary(report)
    by_name = {m.name: m for m in report.members}
    assert not by_name["baseline"].held  # a correct component's typed errors went missing
    assert "ERR-002" in by_name["baseline"].unexpected_failures
    assert not by_name["wrong-error-case"].held
    assert "baseline" in report.classes()["runs correct components"]["broken"]


def test_a_host_without_limits_is_caught_by_the_member_that_never_returns() -> None:
    report = host_certify(broken("no_limits"), only=["infinite-loop"], samples=False)
    assert not report.passed, summary(report)
    (member,) = report.members
    assert [(e.check, e.held) for e in member.expectations] == [("LIM-002", False)]
    assert "infinite-loop:LIM-002" in report.classes()["resource limits"]["broken"]


def test_a_host_with_a_substring_sql_rule_is_caught_by_the_probe_guests() -> None:
    report = host_certify(broken("sql_substring"), only=["baseline"], samples=False)
    assert not report.passed, summary(report)
    (baseline,) = report.members
    failures = baseline.unexpected_failures["SBX-004"]
    assert any("SQL-PROBE-001" in m for m in failures), failures
    assert report.classes()["capability sandboxing"]["broken"] == ["baseline:SBX-004"]


def test_the_cli_writes_the_host_report(tmp_path: Path) -> None:
    out = tmp_path / "host-report.json"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "host-certify", "--launch", OURS,
         "--only", "infinite-loop", "--no-samples", "--report", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert data["passed"] is True and data["members"][0]["name"] == "infinite-loop"
    assert "host-certify: PASSED" in done.stdout


def test_the_ttp_sample_certifies_through_a_launched_host(tmp_path: Path) -> None:
    from sample_components.build import build_sample

    run = run_suite(
        build_sample("ttp_processor").path, tmp_path,
        "--component-config", str(REPO / "fixtures" / "configs" / "ttp.json"),
        "--launch", OURS,
    )  # fmt: skip
    assert run.returncode == 0, run.output[-4000:]
    result = run.result
    assert result is not None and result["certified"]
    assert result["certified_tier"] == "standard"  # and a remote run is capped there
    assert any(c["setting"] == "--launch" for c in result["caps"])
    remote = result["earned_under"]["remote"]
    assert (
        remote["launch"] == OURS and remote["server"]["get_info"]["type"] == 2
    )  # COMPONENT_TYPE_PROCESSOR
    assert remote["server"]["component_sha256"] == result["component"]["sha256"]
    assert set(remote["not_applicable_remotely"]) >= {"WIT-001", "SBX-001", "SEC-001"}
    assert "SBX-004" not in remote["not_applicable_remotely"]  # through the probe guests
    sandbox = next(c for c in result["checks"] if c["id"] == "SBX-004")
    assert sandbox["outcome"] == "passed"
    assert sandbox["measurements"]["probes_through_guests"]["sent_through_guest"]["database"] > 0
    assert run.outcome("WIT-001") == "not-applicable"
    perf = next(c for c in result["checks"] if c["id"] == "PERF-001")["measurements"]
    assert perf["fuel_per_event_max"] == "not observable over the wire"
    for check in ("LIFE-004", "ERR-001", "OUT-003", "DET-001", "HIST-001", "LIM-003"):
        assert run.outcome(check) == "passed", check


def test_an_endpoint_is_examined_and_must_host_the_component(tmp_path: Path) -> None:
    from sample_components.zoo.build import build_zoo
    from tests.integration.serve_harness import serve_argv, serving

    paths = build_zoo(["baseline", "wrong-error-case"])
    argv = serve_argv("--component", str(paths["wrong-error-case"]), "--allow-refused-config",
                      pipeline=None, processor=None, health_port=None)  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with serving(argv) as server:
        run = run_suite(paths["wrong-error-case"], tmp_path / "a",
                        "--processor-endpoint", server.target)  # fmt: skip
        assert run.result is not None, run.output[-3000:]
        assert run.outcome("ERR-002") == "failed", run.output[-3000:]
        assert run.outcome("LIM-003") == "not-applicable"  # needs limits of its own
        assert run.result["earned_under"]["remote"]["endpoint"] == server.target
        other = run_suite(paths["baseline"], tmp_path / "b",
                          "--processor-endpoint", server.target)  # fmt: skip
        assert other.returncode != 0
        assert "not --component's" in other.output, other.output[-2000:]
