"""A host that speaks flowctl.v1 alone, examined with ``--launch ... --remote-contract flowctl.v1``.

Every event goes through real ``Process`` streams of a launched ``flowctl-host serve
--no-extension`` (a new process per fresh instance); the checks flowctl.v1 cannot carry are not
assessed, so such a run never certifies.  Two broken flowctl.v1 hosts (tests/broken_hosts: every
output sent twice; outputs lost when the client closes its side) are caught by the subset.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance.remote import FLOWCTL_V1_CHECKS, LOCAL_ONLY
from tests.conformance_run import REPO, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVE = "serve --no-extension --pipeline {policy} --component {component} --port {port}"
V1 = ("--remote-contract", "flowctl.v1")
TTP_CONFIG = str(REPO / "fixtures" / "configs" / "ttp.json")
GOLDEN = (
    f"{REPO / 'fixtures/events/ttp_transactions.jsonl'}:"
    f"{REPO / 'fixtures/expected/ttp/ttp_transactions__ttp.jsonl'}"
)


@pytest.fixture(scope="module")
def ttp() -> Path:
    from sample_components.build import build_sample

    return build_sample("ttp_processor").path


def test_our_host_passes_what_flowctl_v1_allows_and_is_not_certified(
    ttp: Path, tmp_path: Path
) -> None:
    run = run_suite(
        ttp, tmp_path, "--component-config", TTP_CONFIG, "--conformance-golden", GOLDEN,
        "--launch", f"flowctl-host {SERVE}", *V1,
        # each batch is a stream on a new instance of the served component: on CI's loaded
        # 2 cores that is ~500 events/s, at the default threshold; the rate is not this test's
        "--conformance-threshold", "batch-events-per-s=100",
    )  # fmt: skip
    assert run.result is not None, run.output[-4000:]
    for check in sorted(FLOWCTL_V1_CHECKS):
        assert run.outcome(check) == "passed", (check, run.messages(check))
    sandbox = next(c for c in run.result["checks"] if c["id"] == "SBX-004")
    assert sandbox["measurements"]["probes_through_guests"]["answered"]["database"] > 0
    for check in ("LIFE-001", "ERR-001", "LIM-002", "OUT-003", "SEC-002", "PERF-001"):
        assert run.outcome(check) == "failed", check
        assert "not assessed: over flowctl.v1 alone" in run.messages(check)[0]
    for check in LOCAL_ONLY:
        assert run.outcome(check) == "not-applicable", check
    assert run.returncode != 0 and not run.result["certified"]
    assert run.result["certified_tier"] is None  # could not observe is never a pass
    remote = run.result["earned_under"]["remote"]
    assert remote["contract"] == "flowctl.v1"
    assert remote["server"]["get_info"]["output_event_types"] == ["stellar.token.transfer.v1"]
    assert remote["server"]["inspect"] == "not answered: UNIMPLEMENTED"


def test_a_host_that_sends_outputs_twice_is_caught(ttp: Path, tmp_path: Path) -> None:
    launch = f"{sys.executable} -m tests.broken_hosts.v1_duplicates {SERVE}"
    run = run_suite(
        ttp, tmp_path, "--component-config", TTP_CONFIG, "--launch", launch, *V1,
        "-k", "test_output_ids_are_unique or test_output_types_are_declared",
    )  # fmt: skip
    assert run.result is not None, run.output[-4000:]
    assert run.outcome("OUT-002") == "failed"
    assert "occurs more than once" in run.messages("OUT-002")[0]
    assert run.outcome("OUT-001") == "passed"  # the types are right: only the count is wrong


def test_a_host_that_loses_late_outputs_is_caught(ttp: Path, tmp_path: Path) -> None:
    launch = f"{sys.executable} -m tests.broken_hosts.v1_loses_late_outputs {SERVE}"
    run = run_suite(
        ttp, tmp_path, "--component-config", TTP_CONFIG, "--launch", launch, *V1,
        "--conformance-golden", GOLDEN,
        "-k", "test_output_types_are_declared or test_golden_input",
    )  # fmt: skip
    assert run.result is not None, run.output[-4000:]
    assert run.outcome("OUT-001") == "failed"
    assert "the workload gave no output at all" in run.messages("OUT-001")[0]
    assert run.outcome("GOLD-001") == "failed"


def test_the_extension_contract_against_a_flowctl_v1_host_names_the_way_out(
    ttp: Path, tmp_path: Path
) -> None:
    run = run_suite(
        ttp, tmp_path, "--component-config", TTP_CONFIG,
        "--launch", f"flowctl-host {SERVE} --allow-refused-config",
        "-k", "test_get_info_is_well_formed",
    )  # fmt: skip
    assert run.returncode != 0
    assert "--remote-contract flowctl.v1" in run.output, run.output[-3000:]


def test_flowctl_v1_needs_launch(ttp: Path, tmp_path: Path) -> None:
    run = run_suite(ttp, tmp_path, "--processor-endpoint", "127.0.0.1:9", *V1)
    assert run.returncode == 4  # a usage error
    assert "--remote-contract flowctl.v1 needs --launch" in run.output


def test_host_certify_over_flowctl_v1() -> None:
    from conformance.host_certify import host_certify, summary

    ours = f"flowctl-host {SERVE} --allow-refused-config"
    report = host_certify(
        ours, only=["history-dependent-output", "never-emits", "infinite-loop"],
        samples=False, jobs=2, contract="flowctl.v1",
    )  # fmt: skip
    assert report.passed, summary(report)
    by_name = {m.name: m for m in report.members}
    assert by_name["history-dependent-output"].expectations[0].check == "HIST-001"
    assert by_name["never-emits"].expectations[0].held
    assert "LIM-002" in by_name["infinite-loop"].not_examinable  # no typed limit stop in v1
    assert not by_name["infinite-loop"].expectations
    assert report.to_dict()["contract"] == "flowctl.v1"


def test_host_certify_over_flowctl_v1_catches_a_host_that_loses_outputs() -> None:
    from conformance.host_certify import host_certify, summary

    launch = f"{sys.executable} -m tests.broken_hosts.v1_loses_late_outputs {SERVE}"
    report = host_certify(launch, only=["baseline"], samples=False, contract="flowctl.v1")
    assert not report.passed, summary(report)
    baseline = report.members[0]
    assert "OUT-001" in baseline.unexpected_failures, summary(report)
    assert "runs correct components: BROKEN by baseline" in summary(report)
