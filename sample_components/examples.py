"""Regenerate the example reports: ``python -m sample_components.examples``.

Certifies both samples with the packaged suite and writes every report format into
``reports/examples/<sample>/`` -- the result (JSON), JUnit XML, HTML with charts, Markdown,
the SVG badge, reproductions (when something failed) and the signed certificate
(``<sample>.intoto.jsonl``) -- signed with the committed **test-only** key
``reports/examples/keys/test-only.key`` (made once with ``flowctl-conformance keygen``; anyone can
sign with it, so it proves nothing outside these examples).  Then every certificate is verified
against its component.  The TTP at ``marketplace``, account-balance at ``standard`` on embedded
PostgreSQL, Redis and a real HTTP fixture server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "reports" / "examples"
KEY = OUT / "keys" / "test-only.key"
AB = Path("fixtures") / "conformance" / "account_balance"  # relative to REPO

SAMPLES = {
    "ttp_processor": [
        "--component-config", "fixtures/configs/ttp.json",
        "--conformance-level", "marketplace",
    ],
    "account_balance": [
        "--component-config", str(AB / "config.json"),
        "--conformance-policy", str(AB / "policy.yaml"),
        "--conformance-db-setup", str(AB / "schema.sql"),
        "--conformance-http-fixture", str(AB / "http.json"),
        "--conformance-level", "standard", "--conformance-services", "embedded",
    ],
}  # fmt: skip


def main() -> int:
    """Regenerate and verify; exit 1 if a sample is not certified or a certificate fails."""
    from conformance.reporting.attestation import attest, keygen, verify
    from sample_components.build import build_all

    if not KEY.exists():
        keygen(KEY.parent, "test-only")
    status = 0
    for name, args in SAMPLES.items():
        (built,) = build_all(only=name)
        component = Path(built.path).relative_to(REPO)  # repository-relative paths in reports
        out = OUT / name
        shutil.rmtree(out, ignore_errors=True)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest", "-q",
             "-n", "2", "--component", str(component),
             "--conformance-report-dir", str(out.relative_to(REPO)),
             *args],
            cwd=REPO, check=False,
        )  # fmt: skip
        result = out / f"{name}.conformance.json"
        if done.returncode != 0 or not result.exists():
            sys.stderr.write(f"{name}: not certified (exit {done.returncode})\n")
            status = 1
            continue
        bundle = attest(result, KEY)
        verified = verify(bundle, KEY.with_suffix(".pub"), REPO / component)
        sys.stdout.write(f"{name}: {verified}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
