"""The certificate: two in-toto Statements v1 in DSSE envelopes signed with Ed25519, offline.

From a result file (``<component>.conformance.json``) :func:`attest` makes

1. a **test-result** statement (``https://in-toto.io/attestation/test-result/v0.1``): subject =
   the component (file name + sha256); ``result`` PASSED (certified, nothing failed), WARNED
   (certified, something non-blocking failed or was waived) or FAILED; ``configuration`` = resource
   descriptors of what decided the verdict (suite version, the WIT package, the effective policy,
   the component config, the workload, the waivers, the result file itself); ``passedTests`` /
   ``warnedTests`` / ``failedTests`` = check ids;
2. a **verification summary** (SLSA VSA v1, ``https://slsa.dev/verification_summary/v1``) for the
   same subject with custom levels ``FLOWCTL_CONFORMANCE_<TIER>`` (every tier up to the one
   certified), ``inputAttestations`` = the first statement's digest, ``policy`` = the tier's list
   of mandatory checks (its digest), and the completeness proof under
   :data:`COMPLETENESS_KEY`: the outcome of every check mandatory at the tier.

Both are signed in DSSE (PAE over ``application/vnd.in-toto+json``) with an Ed25519 key from
:func:`keygen` (``cryptography``) and written as an in-toto bundle: one envelope per line
(``.intoto.jsonl``).  :func:`verify` checks everything a marketplace needs offline: every
signature, the statement types, the same subject in both, the component's digest (when given),
the VSA's link to the test result, and completeness recomputed from *this* suite's registry --
every check mandatory at the claimed tier passed, was not applicable, or was waived.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.checks import CHECKS, Tier

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
VSA = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://github.com/obsrvr/flowctl-conformance"
COMPLETENESS_KEY = "https://github.com/obsrvr/flowctl-conformance/completeness/v1"
LEVEL_PREFIX = "FLOWCTL_CONFORMANCE_"
#: Outcomes that keep a mandatory check from blocking its tier (conformance.results.ACCEPTED).
ACCEPTED = frozenset({"passed", "not-applicable", "waived"})
SCHEMA_PATH = Path(__file__).with_name("attestation.schema.json")


class AttestationError(Exception):
    """An attestation cannot be made, read or trusted; the message says why."""


# --------------------------------------------------------------------------- keys


def keygen(directory: Path, name: str = "flowctl-conformance") -> tuple[Path, Path]:
    """Write an Ed25519 key pair: ``<name>.key`` (PKCS#8 PEM, mode 0600) and ``<name>.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    for path in (private, public):
        if path.exists():
            raise AttestationError(f"{path} exists: keygen never overwrites a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _load_key(path: Path, *, private: bool) -> Any:
    """An Ed25519 key from a PEM file (``keygen``'s), or :class:`AttestationError`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    what = "signing key" if private else "public key"
    try:
        data = path.read_bytes()
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))  # fmt: skip
    except (OSError, ValueError, TypeError) as exc:
        raise AttestationError(f"{what} {path}: {exc}") from None
    wanted = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, wanted):
        raise AttestationError(f"{what} {path}: not an Ed25519 key (make one with keygen)")
    return key


def _private_key(path: Path) -> Any:
    return _load_key(path, private=True)


def _public_key(path: Path) -> Any:
    return _load_key(path, private=False)


def key_id(public_key: Any) -> str:
    """The key's id in signatures: sha256 of its raw 32 bytes, hex."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign_envelope(statement: Mapping[str, Any], private_key: Any) -> dict[str, Any]:
    """``statement`` as a DSSE envelope signed by ``private_key``."""
    payload = _canonical(statement)
    signature = private_key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": key_id(private_key.public_key()),
             "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }  # fmt: skip


def open_envelope(envelope: Mapping[str, Any], public_key: Any) -> tuple[dict[str, Any], bytes]:
    """The statement of a DSSE envelope and its payload bytes, once a signature verifies."""
    from cryptography.exceptions import InvalidSignature

    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise AttestationError(
            f"payloadType is {envelope.get('payloadType')!r}, not {PAYLOAD_TYPE!r}"
        )
    try:
        payload = base64.b64decode(str(envelope["payload"]), validate=True)
        signatures = [base64.b64decode(str(s["sig"]), validate=True)
                      for s in envelope["signatures"]]  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise AttestationError(f"not a DSSE envelope: {exc}") from None
    message = pae(PAYLOAD_TYPE, payload)
    for signature in signatures:
        try:
            public_key.verify(signature, message)
            break
        except InvalidSignature:
            continue
    else:
        raise AttestationError(
            "no signature verifies with the given public key: the statement was changed after "
            "signing, or it was signed by another key"
        )
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise AttestationError(f"the signed payload is not JSON: {exc}") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise AttestationError(f"the payload is not an in-toto Statement ({STATEMENT_TYPE})")
    return statement, payload


# --------------------------------------------------------------------------- statements


def _digest(data: bytes) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest()}


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def mandatory_checks(tier: Tier) -> list[str]:
    """The ids of the checks mandatory at ``tier``, in this suite's registry."""
    return sorted(c.id for c in CHECKS if c.mandatory_for(tier))


def _levels(tier: str | None) -> list[str]:
    if tier is None:
        return []
    reached = Tier(tier)
    return [f"{LEVEL_PREFIX}{t.value.upper()}" for t in Tier if t.rank <= reached.rank]


def statements(result: Mapping[str, Any], result_bytes: bytes) -> list[dict[str, Any]]:
    """The test-result statement and the verification summary for one result file."""
    from reference_host._tools import wit_dir

    component = result["component"]
    subject = [{"name": component["file"], "digest": {"sha256": component["sha256"]}}]
    earned = result.get("earned_under") or {}
    outcomes = {c["id"]: c["outcome"] for c in result["checks"]}
    passed = sorted(i for i, o in outcomes.items() if o == "passed")
    waived = sorted(i for i, o in outcomes.items() if o == "waived")
    failed = sorted(i for i, o in outcomes.items() if o == "failed")
    blocking = set(result.get("blocking") or [])
    warned = sorted(set(waived) | (set(failed) - blocking))
    failed = sorted(blocking | (set(failed) - set(warned)))
    certified = bool(result.get("certified"))
    verdict = "FAILED" if not certified or blocking else ("WARNED" if warned else "PASSED")
    wit = b"".join(p.read_bytes() for p in sorted(wit_dir().glob("*.wit")))
    policy = earned.get("policy") or {}
    configuration: list[dict[str, Any]] = [
        {"name": "flowctl-conformance", "uri": f"pkg:pypi/flowctl-conformance@"
         f"{earned.get('suite_version')}", "annotations": {"version": earned.get("suite_version")}},
        {"name": "wit:obsrvr:flowctl@1.0.0", "digest": _digest(wit)},
        {"name": "result", "digest": _digest(result_bytes),
         "annotations": {"format_version": result.get("format_version")}},
        {"name": "waivers", "digest": _digest(_canonical(earned.get("waivers") or {})),
         "annotations": {"waived": waived}},
        {"name": "tier", "annotations": {"asked": result.get("tier"),
                                         "certified": result.get("certified_tier")}},
    ]  # fmt: skip
    if policy.get("effective_sha256"):
        configuration.append({"name": "policy", "digest": {"sha256": policy["effective_sha256"]},
                              "annotations": {"source": policy.get("source")}})  # fmt: skip
    for key in ("component_config", "workload"):
        entry = earned.get(key) or {}
        if entry.get("sha256"):
            configuration.append({"name": key.replace("_", "-"),
                                  "digest": {"sha256": entry["sha256"]},
                                  "annotations": {"source": entry.get("source")}})  # fmt: skip
    test_result = {
        "_type": STATEMENT_TYPE, "subject": subject, "predicateType": TEST_RESULT,
        "predicate": {"result": verdict, "configuration": configuration,
                      "passedTests": passed, "warnedTests": warned, "failedTests": failed},
    }  # fmt: skip
    tier = result.get("certified_tier")
    mandatory = mandatory_checks(Tier(tier)) if tier else []
    vsa = {
        "_type": STATEMENT_TYPE, "subject": subject, "predicateType": VSA,
        "predicate": {
            "verifier": {"id": VERIFIER_ID,
                         "version": {"flowctl-conformance": str(earned.get("suite_version"))}},
            "timeVerified": result.get("finished"),
            "resourceUri": f"file:{component['file']}",
            "policy": {"uri": f"{VERIFIER_ID}/blob/main/conformance/CHECKS.md#tier-{tier}",
                       "digest": _digest(_canonical({"tier": tier, "mandatory": mandatory}))},
            "inputAttestations": [{"uri": "test-result", "digest": _digest(_canonical(
                test_result))}],
            "verificationResult": "PASSED" if tier else "FAILED",
            "verifiedLevels": _levels(tier),
            "slsaVersion": "1.0",
            COMPLETENESS_KEY: {"tier": tier,
                               "mandatory": {i: outcomes.get(i, "absent") for i in mandatory}},
        },
    }  # fmt: skip
    return [test_result, vsa]


def attest(result_path: Path, signing_key: Path, out: Path | None = None) -> Path:
    """Sign the statements of ``result_path``; write the bundle (default next to it)."""
    try:
        data = result_path.read_bytes()
        result = json.loads(data)
    except (OSError, ValueError) as exc:
        raise AttestationError(f"result file {result_path}: {exc}") from None
    if not isinstance(result, dict) or result.get("format") != "flowctl-conformance-result":
        raise AttestationError(f"{result_path} is not a flowctl-conformance result file")
    key = _private_key(signing_key)
    envelopes = [sign_envelope(s, key) for s in statements(result, data)]
    target = out or result_path.with_name(
        result_path.name.removesuffix(".conformance.json") + ".intoto.jsonl"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in envelopes), "utf-8")
    return target


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verified:
    """What a verified attestation says."""

    component: str
    sha256: str
    tier: str
    result: str
    key_id: str

    def __str__(self) -> str:
        return (
            f"verified: {self.component} (sha256 {self.sha256[:16]}...) certified at tier "
            f"{self.tier}, test result {self.result}, signed by key {self.key_id[:16]}..."
        )


def read_bundle(path: Path) -> list[dict[str, Any]]:
    """The envelopes of a bundle file (one JSON envelope per line)."""
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        envelopes = [json.loads(ln) for ln in lines]
    except (OSError, ValueError) as exc:
        raise AttestationError(f"attestation {path}: {exc}") from None
    if not envelopes or not all(isinstance(e, dict) for e in envelopes):
        raise AttestationError(f"attestation {path}: no DSSE envelope in it")
    return envelopes


def _completeness(test: Mapping[str, Any], vsa: Mapping[str, Any]) -> str:
    levels = [lv for lv in vsa.get("verifiedLevels") or [] if str(lv).startswith(LEVEL_PREFIX)]
    if vsa.get("verificationResult") != "PASSED" or not levels:
        raise AttestationError("the verification summary certifies no tier (FAILED)")
    tiers = []
    for level in levels:
        try:
            tiers.append(Tier(str(level).removeprefix(LEVEL_PREFIX).lower()))
        except ValueError:
            raise AttestationError(f"unknown level {level!r}") from None
    tier = max(tiers, key=lambda t: t.rank)
    proof = vsa.get(COMPLETENESS_KEY) or {}
    claimed = proof.get("mandatory") or {}
    if proof.get("tier") != tier.value:
        raise AttestationError(f"the completeness proof is for {proof.get('tier')!r}, not {tier}")
    predicate = test.get("predicate") or {}
    if predicate.get("result") not in ("PASSED", "WARNED"):
        raise AttestationError(f"the test result is {predicate.get('result')!r}")
    passed = set(predicate.get("passedTests") or [])
    warned = set(predicate.get("warnedTests") or [])
    failed = set(predicate.get("failedTests") or [])
    problems = []
    for check in mandatory_checks(tier):  # this suite's registry, not the statement's word
        outcome = claimed.get(check)
        if outcome not in ACCEPTED:
            problems.append(f"{check}: {outcome or 'not in the proof'}")
        elif check in failed or (outcome == "passed") != (check in passed):
            problems.append(f"{check}: the proof says {outcome}, the test result disagrees")
        elif outcome == "waived" and check not in warned:
            problems.append(f"{check}: waived but not among the warned tests")
    if problems:
        raise AttestationError(
            f"incomplete for tier {tier}: mandatory checks not shown to pass: {'; '.join(problems)}"
        )
    return tier.value


def verify(attestation: Path, public_key: Path, component: Path | None = None) -> Verified:
    """Check an attestation bundle (see the module docstring); :class:`AttestationError` if not."""
    key = _public_key(public_key)
    found: dict[str, tuple[dict[str, Any], bytes]] = {}
    for envelope in read_bundle(attestation):
        statement, payload = open_envelope(envelope, key)
        found[str(statement.get("predicateType"))] = (statement, payload)
    if TEST_RESULT not in found or VSA not in found:
        raise AttestationError(
            f"the bundle must hold a {TEST_RESULT} and a {VSA} statement; it holds {sorted(found)}"
        )
    (test, test_payload), (vsa, _) = found[TEST_RESULT], found[VSA]
    if test.get("subject") != vsa.get("subject") or len(test.get("subject") or []) != 1:
        raise AttestationError("the two statements are not about the same one component")
    subject = test["subject"][0]
    sha = str((subject.get("digest") or {}).get("sha256", ""))
    if component is not None:
        try:
            actual = hashlib.sha256(component.read_bytes()).hexdigest()
        except OSError as exc:
            raise AttestationError(f"component {component}: {exc}") from None
        if actual != sha:
            raise AttestationError(
                f"{component} (sha256 {actual[:16]}...) is not the attested component "
                f"{subject.get('name')} (sha256 {sha[:16]}...)"
            )
    vsa_predicate = vsa.get("predicate") or {}
    link = [a.get("digest", {}).get("sha256") for a in vsa_predicate.get("inputAttestations", [])]
    if hashlib.sha256(_canonical(json.loads(test_payload))).hexdigest() not in link:
        raise AttestationError("the verification summary does not name this test result")
    tier = _completeness(test, vsa_predicate)
    return Verified(str(subject.get("name")), sha, tier, test["predicate"]["result"], key_id(key))


def schema() -> dict[str, Any]:
    """The JSON Schema of the two statements."""
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data
