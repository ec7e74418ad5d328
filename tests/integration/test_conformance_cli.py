"""flowctl-conformance: `services` starts real PostgreSQL + Redis and prints usable URLs;
`certify` runs the packaged suite and exits with its verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
def test_services_once_prints_working_urls() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "services", "--once", "--mode", "embedded"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    urls = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    pg, rd = (
        urls[k].strip("'")
        for k in ("FLOWCTL_CONFORMANCE_POSTGRES_URL", "FLOWCTL_CONFORMANCE_REDIS_URL")
    )
    assert pg.startswith("postgresql://") and "@127.0.0.1:" in pg
    assert rd.startswith("redis://") and "@127.0.0.1:" in rd
    # --once stopped them: nothing listens any more
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg, connect_timeout=2)


@pytest.mark.integration
def test_certify_runs_the_suite_and_exits_with_the_verdict(tmp_path: Path) -> None:
    from sample_components.zoo.build import build_zoo

    paths = build_zoo(names=["baseline", "info-bad-version"])
    # a conftest.py beside the run that would pass every check: certify never loads it
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef conformance_check():\n    return None\n"
    )
    from conformance.reporting.attestation import keygen, verify

    private, public = keygen(tmp_path / "keys")
    for name, verdict in (("baseline", 0), ("info-bad-version", 1)):
        out = subprocess.run(
            [sys.executable, "-m", "conformance.cli", "certify", str(paths[name]),
             "--level", "basic", "--report-dir", str(tmp_path / name),
             "--signing-key", str(private), "--", "-q", "--conformance-examples", "5"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
        )  # fmt: skip
        assert out.returncode == verdict, out.stdout[-3000:]
        assert f"{name}.wasm" in out.stdout and "tier=basic" in out.stdout
        result = json.loads((tmp_path / name / f"{name}.conformance.json").read_text())
        assert result["certified"] is (verdict == 0)
        assert result["integrity"]["conftests"] == [] and result["violations"] == []
        bundle = tmp_path / name / f"{name}.intoto.jsonl"
        assert f"signed attestation: {bundle}" in out.stdout
        if verdict == 0:  # the certificate holds for this component, and only for it
            assert verify(bundle, public, paths[name]).tier == "basic"
    assert "LIFE-001" in result["blocking"]


def test_certify_help_explains() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "certify", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "mandatory check" in out and "--policy" in out and "--noconftest" in out
    assert "--out" in out and "--signing-key" in out
