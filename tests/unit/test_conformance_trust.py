"""The pieces that make a certificate trustworthy: tamper scan, provenance and caps, the tier
decision, config candidates, coverage events, the trap ledger, the private snapshot."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any, cast

import pytest

from conformance import integrity, provenance
from conformance.checks import BY_ID, CHECKS, Tier
from conformance.configs import candidates_from_schema, missing_required
from conformance.coverage import LONG_LIST, LONG_STRING, coverage_events
from conformance.data import fixtures_dir, load_events
from conformance.observe import ObservedInstance, TrapLedger
from conformance.results import CheckResult, Outcome, RunResult, granted_tier
from conformance.settings import PolicySource, SuiteSettings, Thresholds
from conformance.start import snapshot
from reference_host import errors
from reference_host import types as t
from reference_host.policy import Policy
from reference_host.processor import ProcessorInstance

# ------------------------------------------------------------------------------ tamper scan


def test_a_replaced_function_method_or_imported_name_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import conformance.harness
    import conformance.outcomes
    from reference_host import limits

    assert integrity.tampered() == []
    monkeypatch.setattr(conformance.outcomes, "outcome", lambda call: None)
    monkeypatch.setattr(limits.CallBudget, "arm", lambda self, *a: None)
    found = integrity.tampered()
    assert any(f.startswith("conformance.outcomes.outcome was replaced") for f in found), found
    assert any("reference_host.limits.CallBudget.arm was replaced" in f for f in found), found
    # the suite's modules imported the original: a rebinding there is caught as well
    monkeypatch.undo()
    monkeypatch.setattr(conformance.harness, "outcome", lambda call: None)
    assert integrity.tampered() == [
        "conformance.harness.outcome is no longer conformance.outcomes.outcome"
    ]
    monkeypatch.undo()
    assert integrity.tampered() == []


def test_untrusted_plugins_with_outcome_hooks_are_violations() -> None:
    from _pytest.config import PytestPluginManager

    pm = PytestPluginManager()

    class Flipper:
        def pytest_runtest_makereport(self, item, call):
            return None

    class Quiet:
        def pytest_configure(self, config):
            return None

    pm.register(Flipper(), "flipper")
    pm.register(Quiet(), "quiet")
    facts, violations = integrity.audit_plugins(pm)
    assert len(violations) == 1 and "plugin flipper" in violations[0], violations
    assert "pytest_runtest_makereport" in violations[0] and "-p no:flipper" in violations[0]
    names = facts["plugins"]["(no distribution)"]["plugins"]
    assert any(n.startswith("quiet") for n in names)


# ------------------------------------------------------------------------------ provenance


def test_redaction_hides_url_passwords_and_secret_looking_values() -> None:
    data = {
        "capabilities": {"database": {"connection_string": "postgresql://u:hunter2@h:5/db"}},
        "api_key": "sk-123",
        "nested": [{"token": "t"}, {"name": "visible"}],
    }
    out = provenance.redact(data)
    assert "hunter2" not in json.dumps(out)
    assert out["capabilities"]["database"]["connection_string"] == "postgresql://u:***@h:5/db"
    assert out["api_key"] == "***" and out["nested"] == [{"token": "***"}, {"name": "visible"}]


def _settings(tmp_path: Path, **kwargs: object) -> SuiteSettings:
    wasm = tmp_path / "c.wasm"
    wasm.write_bytes(b"\0asm")
    return SuiteSettings(component=wasm, level=Tier.MARKETPLACE, **kwargs)  # type: ignore[arg-type]


def test_default_settings_and_policy_cap_nothing(tmp_path: Path) -> None:
    assert provenance.caps(_settings(tmp_path), Policy(), 20_000_000_000) == []


@pytest.mark.parametrize(
    ("kwargs", "policy", "setting"),
    [
        ({"examples": 10}, {}, "--conformance-examples"),
        ({"thresholds": Thresholds(single_events_per_s=1)}, {}, "single-events-per-s"),
        ({"thresholds": Thresholds(batch_p99_ms=5000)}, {}, "batch-p99-ms"),
        ({"thresholds": Thresholds(rounds=7)}, {}, "rounds"),
        ({"thresholds": Thresholds(batch_size=5)}, {}, "batch-size"),
        ({"waivers": {"ERR-001": "trust me"}}, {}, "--conformance-waive ERR-001"),
        ({}, {"max_memory_pages": 4096}, "policy max_memory_pages"),
        ({}, {"execution_timeout": 60}, "policy execution_timeout"),
        ({}, {"max_fuel": 10**12}, "policy max_fuel"),
    ],
)
def test_weaker_settings_cap_marketplace(
    tmp_path: Path, kwargs: dict[str, Any], policy: dict[str, Any], setting: str
) -> None:
    caps = provenance.caps(_settings(tmp_path, **kwargs), Policy(**policy), 20_000_000_000)
    assert [c.setting for c in caps] == [next(c.setting for c in caps if setting in c.setting)]
    assert setting in caps[0].setting and caps[0].why


def test_stricter_settings_and_a_replaced_workload(tmp_path: Path) -> None:
    stricter = Thresholds(single_events_per_s=1000, batch_p99_ms=10, rounds=500)
    assert provenance.caps(_settings(tmp_path, thresholds=stricter), Policy(), 10) == []
    events = tmp_path / "mine.jsonl"
    events.write_text("")
    caps = provenance.caps(_settings(tmp_path, events=(events,)), None, 10)
    assert [c.setting for c in caps] == ["--conformance-events"]


def test_earned_under_records_digests_never_config_values(tmp_path: Path) -> None:
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("max_memory_pages: 128\n")
    settings = _settings(tmp_path, policy=PolicySource(policy_file))
    secret = json.dumps({"api_key": "do-not-record-me"})
    record = provenance.earned_under(
        settings, policy=Policy(processor_config=secret, max_memory_pages=128),
        config_text=secret, config_source="--component-config x.json",
        workload=["{}", "{}"], suite_version="9.9",
    )  # fmt: skip
    text = json.dumps(record)
    assert "do-not-record-me" not in text
    assert record["component_config"]["sha256"] == provenance.sha256_text(secret)
    assert record["policy"]["file"]["sha256"] == integrity.sha256_file(policy_file)
    assert record["policy"]["effective"]["max_memory_pages"] == 128
    assert record["workload"]["events"] == 2 and record["suite_version"] == "9.9"


# ------------------------------------------------------------------------------ the tier


def _result(outcomes: dict[str, Outcome], tier: Tier = Tier.MARKETPLACE) -> list[CheckResult]:
    return [
        CheckResult(c, outcomes.get(c.id, Outcome.PASSED), c.mandatory_for(tier)) for c in CHECKS
    ]


def test_the_granted_tier_is_the_highest_whose_mandatory_checks_pass() -> None:
    assert granted_tier(_result({})) is Tier.MARKETPLACE
    assert granted_tier(_result({"PERF-001": Outcome.FAILED})) is Tier.STANDARD
    assert granted_tier(_result({"HIST-001": Outcome.SKIPPED})) is Tier.BASIC
    assert granted_tier(_result({"ERR-001": Outcome.NOT_RUN})) is None
    assert granted_tier(_result({"SEC-002": Outcome.FAILED})) is Tier.MARKETPLACE  # informational
    assert granted_tier(_result({}), capped=True) is Tier.STANDARD
    assert granted_tier(_result({}), Tier.BASIC) is Tier.BASIC
    assert granted_tier(_result({}), void=True) is None


def test_caps_violations_and_start_errors_show_in_the_verdict() -> None:
    clean = RunResult({"file": "c.wasm", "sha256": "0" * 64}, Tier.MARKETPLACE, _result({}))
    assert clean.certified and clean.certified_tier is Tier.MARKETPLACE
    capped = RunResult(clean.component, Tier.MARKETPLACE, _result({}), caps=[
        {"setting": "--conformance-examples", "value": 5, "default": 50, "why": "fewer"}
    ])  # fmt: skip
    assert not capped.certified and capped.certified_tier is Tier.STANDARD
    assert "capped at standard by --conformance-examples" in capped.summary()
    assert "earned: standard" in capped.summary()
    assert RunResult(clean.component, Tier.STANDARD, _result({}), caps=capped.caps).certified
    tampered = RunResult(clean.component, Tier.BASIC, _result({}), violations=["x"])
    assert not tampered.certified and tampered.certified_tier is None
    assert "nothing certified" in tampered.summary()
    unstarted = RunResult(clean.component, Tier.BASIC, _result({}), start_error="no config")
    assert not unstarted.certified and "did not run" in unstarted.summary()


# ------------------------------------------------------------------------------ configs


def test_config_candidates_come_from_examples_then_defaults() -> None:
    schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "examples": ["https://x"]},
            "n": {"type": "integer", "default": 3},
        },
        "examples": [{"url": "https://a", "n": 1}, {"n": 2}],
    }
    got = candidates_from_schema(schema)
    assert [source for source, _ in got] == [
        "configuration-schema examples[0]",
        "configuration-schema defaults",
    ]  # fmt: skip  (examples[1] and {} miss the required url)
    assert json.loads(got[1][1]) == {"url": "https://x", "n": 3}
    assert missing_required(schema) == []
    assert missing_required({"required": ["k"], "properties": {"k": {"type": "string"}}}) == ["k"]
    assert candidates_from_schema(None) == [("{}", "{}")]


# ------------------------------------------------------------------------------ coverage


def test_coverage_events_reach_every_case_once_each() -> None:
    base = load_events(fixtures_dir() / "events" / "ttp_transactions.jsonl")
    events = coverage_events(base)
    assert events == coverage_events(base)  # deterministic
    ops = {
        e.data.operations[0].operation_type
        for e in events
        if isinstance(e.data, t.StellarTransaction) and e.data.operations
    }
    assert ops >= set(t.OperationType)
    memos = {
        e.data.memo.memo_type
        for e in events
        if isinstance(e.data, t.StellarTransaction) and e.data.memo is not None
    }
    assert memos == set(t.MemoType)
    assert {type(e.data) for e in events} >= {
        t.StellarTransaction, t.StellarLedger, t.StellarOperation, t.TokenTransfer, t.Generic,
    }  # fmt: skip
    assert any(
        isinstance(e.data, t.StellarTransaction) and len(e.data.operations) == LONG_LIST
        for e in events
    )
    assert any(len(e.source_component) == LONG_STRING for e in events)
    fees = {e.data.fee for e in events if isinstance(e.data, t.StellarTransaction)}
    assert {0, 2**64 - 1} <= fees
    assert all(e.id.startswith(base[0].id + "~") or e.id in ("", "x" * LONG_STRING) or
               e.id.startswith("ünïcødé") for e in events)  # fmt: skip


# ------------------------------------------------------------------------------ the ledger


class _FakeInstance:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.limits = "kept"

    def process_event(self, event: t.Event) -> list[t.Event]:
        raise self.exc


def _fake_instance(exc: BaseException) -> ProcessorInstance:
    """A stand-in with only what ObservedInstance uses here (process_event, limits)."""
    return cast("ProcessorInstance", _FakeInstance(exc))


def test_the_ledger_records_traps_and_limit_stops_but_not_typed_errors() -> None:
    ledger = TrapLedger(scope="test-a")
    event = t.Event("ev-1", 1, "s", t.EventType.CUSTOM, t.Generic("{}"))
    for exc in (
        errors.GuestTrap("wasm trap: unreachable"),
        errors.OutOfFuelError("all fuel consumed"),
        errors.ProcessorErrorResult(t.ProcessorError("invalid-event", "no")),
    ):
        with pytest.raises(type(exc)):
            ObservedInstance(_fake_instance(exc), ledger).process_event(event)
    assert [(r.kind, r.inputs, r.scope) for r in ledger.records] == [
        ("trap", "ev-1", "test-a"), ("limit", "ev-1", "test-a"),
    ]  # fmt: skip
    assert "process-event(ev-1) trapped: GuestTrap" in str(ledger.records[0])
    assert ledger.of({"other"}) == []
    assert ObservedInstance(_fake_instance(errors.GuestTrap("x")), None).limits == "kept"


# ------------------------------------------------------------------------------ the snapshot


def test_the_snapshot_is_a_private_read_only_copy_with_the_digest_of_its_bytes(
    tmp_path: Path,
) -> None:
    original = tmp_path / "c.wasm"
    original.write_bytes(b"\0asm component bytes")
    copy, sha, size = snapshot(original)
    try:
        assert copy.name == "c.wasm" and copy.read_bytes() == original.read_bytes()
        assert size == len(original.read_bytes()) and sha == provenance.sha256_text(
            copy.read_bytes()
        )
        assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(copy.stat().st_mode) == 0o400
        original.write_bytes(b"changed")  # what happens to the original changes nothing
        assert provenance.sha256_text(copy.read_bytes()) == sha
    finally:
        copy.chmod(0o600)
        copy.unlink()
        copy.parent.rmdir()


def test_every_registered_check_id_is_stable_and_new_ones_exist() -> None:
    for check_id in ("HIST-001", "LIFE-009", "SEC-001", "SEC-002", "LIM-006"):
        assert check_id in BY_ID
    assert BY_ID["SEC-002"].mandatory_from is None
