"""The certificate: in-toto statements in DSSE envelopes, Ed25519, verify and tamper tests."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.checks import CHECKS, Tier
from conformance.cli import main
from conformance.reporting import attestation as at
from conformance.reporting import json_report
from conformance.results import Outcome, RunResult, TestRecord, decide

COMPONENT = b"\0asm\x0d\0\x01\0 a component's bytes"


def _result(tmp_path: Path, *, fail: str | None = None, waive: str | None = None,
            na: str | None = None) -> Path:  # fmt: skip
    records = {c.id: [TestRecord(f"suite::{c.id}", Outcome.PASSED)] for c in CHECKS}
    for check, outcome in ((fail, Outcome.FAILED), (waive, Outcome.FAILED),
                           (na, Outcome.NOT_APPLICABLE)):  # fmt: skip
        if check is not None:
            records[check] = [TestRecord(f"suite::{check}", outcome, "why")]
    waivers = {waive: "accepted by the marketplace, ticket 7"} if waive else {}
    result = RunResult(
        {"file": "c.wasm", "sha256": hashlib.sha256(COMPONENT).hexdigest(), "size": 10},
        Tier.MARKETPLACE,
        decide(Tier.MARKETPLACE, records, waivers=waivers),
        started="2026-12-03T00:00:00+00:00",
        finished="2026-12-03T00:01:00+00:00",
    )
    result.earned_under = {
        "suite_version": "0.1.0",
        "policy": {"source": "default", "effective_sha256": "cd" * 32},
        "workload": {"source": "packaged fixtures", "sha256": "ef" * 32},
        "waivers": waivers,
    }
    return json_report.write(result, tmp_path)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return at.keygen(tmp_path / "keys")


@pytest.fixture
def component(tmp_path: Path) -> Path:
    path = tmp_path / "c.wasm"
    path.write_bytes(COMPONENT)
    return path


def _statements(bundle: Path) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(e["payload"])) for e in at.read_bundle(bundle)]


def test_a_certified_run_is_attested_and_verifies(
    tmp_path: Path, keys: tuple[Path, Path], component: Path
) -> None:
    bundle = at.attest(_result(tmp_path), keys[0])
    assert bundle.name == "c.intoto.jsonl"
    test, vsa = _statements(bundle)
    jsonschema.Draft202012Validator.check_schema(at.schema())
    for statement in (test, vsa):
        jsonschema.validate(statement, at.schema())
        assert statement["subject"] == [{"name": "c.wasm", "digest": {
            "sha256": hashlib.sha256(COMPONENT).hexdigest()}}]  # fmt: skip
    assert test["predicateType"] == at.TEST_RESULT and test["predicate"]["result"] == "PASSED"
    assert set(test["predicate"]["passedTests"]) == {c.id for c in CHECKS}
    names = {c["name"] for c in test["predicate"]["configuration"]}
    assert {"flowctl-conformance", "wit:obsrvr:flowctl@1.0.0", "policy", "workload",
            "waivers", "result"} <= names  # fmt: skip
    assert vsa["predicate"]["verifiedLevels"] == [
        "FLOWCTL_CONFORMANCE_BASIC", "FLOWCTL_CONFORMANCE_STANDARD",
        "FLOWCTL_CONFORMANCE_MARKETPLACE",
    ]  # fmt: skip
    proof = vsa["predicate"][at.COMPLETENESS_KEY]
    assert set(proof["mandatory"]) == set(at.mandatory_checks(Tier.MARKETPLACE))
    verified = at.verify(bundle, keys[1], component)
    assert (verified.tier, verified.result, verified.component) == ("marketplace", "PASSED",
                                                                     "c.wasm")  # fmt: skip


def test_any_changed_byte_of_a_signed_statement_is_caught(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = at.attest(_result(tmp_path), keys[0])
    lines = bundle.read_text().splitlines()
    envelope = json.loads(lines[0])
    payload = bytearray(base64.b64decode(envelope["payload"]))
    for index in (0, len(payload) // 2, len(payload) - 1):  # first, middle, last byte
        changed = bytearray(payload)
        changed[index] ^= 0x01
        envelope["payload"] = base64.b64encode(bytes(changed)).decode()
        tampered = tmp_path / f"tampered-{index}.intoto.jsonl"
        tampered.write_text(json.dumps(envelope) + "\n" + lines[1] + "\n")
        with pytest.raises(at.AttestationError, match="no signature verifies"):
            at.verify(tampered, keys[1])


def test_a_statement_re_signed_by_another_key_or_a_different_component_is_refused(
    tmp_path: Path, keys: tuple[Path, Path], component: Path
) -> None:
    bundle = at.attest(_result(tmp_path), keys[0])
    _, other_public = at.keygen(tmp_path / "other")
    with pytest.raises(at.AttestationError, match="no signature verifies"):
        at.verify(bundle, other_public)
    component.write_bytes(COMPONENT + b"!")
    with pytest.raises(at.AttestationError, match="is not the attested component"):
        at.verify(bundle, keys[1], component)


def test_a_forged_proof_is_checked_against_the_suites_own_registry(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    # the signer claims marketplace while the proof leaves out a mandatory check
    result = json.loads(_result(tmp_path).read_text())
    test, vsa = at.statements(result, b"{}")
    dropped = at.mandatory_checks(Tier.MARKETPLACE)[0]
    del vsa["predicate"][at.COMPLETENESS_KEY]["mandatory"][dropped]
    key = at._private_key(keys[0])
    forged = tmp_path / "forged.intoto.jsonl"
    forged.write_text("".join(json.dumps(at.sign_envelope(s, key)) + "\n" for s in (test, vsa)))
    with pytest.raises(at.AttestationError, match=f"{dropped}: not in the proof"):
        at.verify(forged, keys[1])


def test_a_failed_run_attests_failed_and_does_not_verify(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = at.attest(_result(tmp_path, fail="ERR-001"), keys[0])
    test, vsa = _statements(bundle)
    assert test["predicate"]["result"] == "FAILED" and "ERR-001" in test["predicate"]["failedTests"]
    # ERR-001 is mandatory from basic: no tier at all
    assert vsa["predicate"]["verificationResult"] == "FAILED"
    with pytest.raises(at.AttestationError, match="certifies no tier"):
        at.verify(bundle, keys[1])


def test_a_waived_check_is_a_warning_and_still_verifies(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = at.attest(_result(tmp_path, waive="PERF-001", na="SBX-003"), keys[0])
    test, vsa = _statements(bundle)
    assert test["predicate"]["result"] == "WARNED"
    assert test["predicate"]["warnedTests"] == ["PERF-001"]
    assert "SBX-003" not in test["predicate"]["passedTests"]
    mandatory = vsa["predicate"][at.COMPLETENESS_KEY]["mandatory"]
    assert mandatory["SBX-003"] == "not-applicable"
    assert at.verify(bundle, keys[1]).result == "WARNED"


def test_the_cli_keygen_attest_verify_round_trip(
    tmp_path: Path, component: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _result(tmp_path)
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    private, public = (
        tmp_path / "k" / "flowctl-conformance.key",
        tmp_path / "k" / "flowctl-conformance.pub",
    )
    assert private.stat().st_mode & 0o077 == 0  # the private key is the owner's only
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 1  # never overwrites
    assert "never overwrites" in capsys.readouterr().err
    assert main(["attest", str(result), "--signing-key", str(private)]) == 0
    bundle = result.with_name("c.intoto.jsonl")
    assert main(["verify", str(bundle), "--public-key", str(public),
                 "--component", str(component)]) == 0  # fmt: skip
    assert "verified: c.wasm" in capsys.readouterr().out
    component.write_bytes(b"another component")
    assert main(["verify", str(bundle), "--public-key", str(public),
                 "--component", str(component)]) == 1  # fmt: skip
    assert "NOT verified" in capsys.readouterr().out
    assert main(["attest", str(tmp_path / "none.json"), "--signing-key", str(private)]) == 1
