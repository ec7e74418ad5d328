"""Certification is decided by a pure function; the result file matches its shipped schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from conformance.checks import BY_ID, CHECKS, Tier
from conformance.deciders import deciding_tests
from conformance.reporting import json_report
from conformance.results import Outcome, RunResult, TestRecord, combine, decide
from conformance.settings import SettingsError, Thresholds, waivers


def _passing() -> dict[str, list[TestRecord]]:
    return {c.id: [TestRecord(f"suite::{c.id}", Outcome.PASSED)] for c in CHECKS}


def _certified(tier: Tier, records: dict[str, list[TestRecord]], **kw: object) -> bool:
    return RunResult({"file": "c.wasm"}, tier, decide(tier, records, **kw)).certified  # type: ignore[arg-type]


def test_all_passed_certifies_every_tier() -> None:
    assert all(_certified(tier, _passing()) for tier in Tier)


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.SKIPPED])
def test_a_failed_or_skipped_mandatory_check_blocks(outcome: Outcome) -> None:
    records = _passing()
    records["LIFE-003"] = [TestRecord("suite::x", outcome, "why")]
    assert not _certified(Tier.BASIC, records)


def test_a_check_that_did_not_run_blocks_so_subsets_never_certify() -> None:
    records = _passing()
    del records["OUT-003"]  # mandatory from standard
    assert _certified(Tier.BASIC, records)
    assert not _certified(Tier.STANDARD, records)
    (result,) = [r for r in decide(Tier.STANDARD, records) if r.check.id == "OUT-003"]
    assert result.outcome is Outcome.NOT_RUN and result.blocks


def test_tiers_are_cumulative_and_informational_checks_never_block() -> None:
    records = _passing()
    records["PERF-001"] = [TestRecord("t", Outcome.FAILED, "slow")]
    records["SBX-005"] = [TestRecord("t", Outcome.FAILED, "unused grant")]
    assert _certified(Tier.STANDARD, records)
    assert not _certified(Tier.MARKETPLACE, records)
    assert BY_ID["SBX-005"].mandatory_from is None


def test_a_waiver_needs_a_reason_and_shows_as_waived() -> None:
    records = _passing()
    records["LIM-001"] = [TestRecord("t", Outcome.FAILED, "too slow")]
    checks = decide(Tier.BASIC, records, waivers={"LIM-001": "known: batch host only"})
    (lim,) = [r for r in checks if r.check.id == "LIM-001"]
    assert lim.outcome is Outcome.WAIVED and lim.waiver == "known: batch host only"
    assert RunResult({}, Tier.BASIC, checks).certified
    assert waivers(["lim-001:reason"]) == {"LIM-001": "reason"}
    with pytest.raises(SettingsError, match="CHECK:REASON"):
        waivers(["LIM-001:"])


def test_not_applicable_does_not_block_but_all_skipped_does() -> None:
    assert combine([TestRecord("a", Outcome.NOT_APPLICABLE)]) is Outcome.NOT_APPLICABLE
    assert combine([TestRecord("a", Outcome.SKIPPED)]) is Outcome.SKIPPED
    assert (
        combine([TestRecord("a", Outcome.PASSED), TestRecord("b", Outcome.FAILED)])
        is Outcome.FAILED
    )
    assert combine([]) is Outcome.NOT_RUN


def test_result_file_validates_against_the_shipped_schema(tmp_path: Path) -> None:
    records = _passing()
    records["ERR-001"] = [TestRecord("suite::t", Outcome.FAILED, "trapped")]
    result = RunResult(
        {"file": "c.wasm", "sha256": "ab" * 32, "size": 10},
        Tier.STANDARD,
        decide(Tier.STANDARD, records, measurements={"PERF-001": {"events_per_s": 12.5}}),
        started="2026-11-27T00:00:00+00:00",
        finished="2026-11-27T00:01:00+00:00",
    )
    path = json_report.write(result, tmp_path)
    assert path.name == "c.conformance.json"
    data = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(json_report.schema())
    jsonschema.validate(data, json_report.schema())
    assert data["certified"] is False and data["blocking"] == ["ERR-001"]
    assert data["counts"]["failed"] == 1 and data["counts"]["passed"] == len(CHECKS) - 1
    perf = next(c for c in data["checks"] if c["id"] == "PERF-001")
    assert perf["measurements"] == {"events_per_s": 12.5} and not perf["mandatory"]
    bad = dict(data, checks=[dict(data["checks"][0], outcome="great")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_report.schema())
    assert "NOT CERTIFIED" in result.summary(str(path)) and "blocking: ERR-001" in result.summary()


def test_threshold_overrides() -> None:
    th = Thresholds().with_overrides([("fuel-per-event", "5"), ("batch-p99-ms", "2.5")])
    assert (th.fuel_per_event, th.batch_p99_ms) == (5, 2.5)
    with pytest.raises(SettingsError, match="must be positive"):
        Thresholds().with_overrides([("rounds", "0")])


def test_every_check_has_a_test_and_every_test_a_check() -> None:
    marks = deciding_tests()  # raises for a suite test that names no check or several
    assert set(marks) <= set(BY_ID), set(marks) - set(BY_ID)
    assert set(BY_ID) <= set(marks), f"checks without a test: {sorted(set(BY_ID) - set(marks))}"
