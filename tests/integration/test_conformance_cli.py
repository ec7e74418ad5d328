"""flowctl-conformance: `services` starts real PostgreSQL + Redis and prints usable URLs;
`certify` refuses honestly while the suite is not in this release."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conformance.cli import main


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


def test_certify_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "x.wasm"]) == 2
    assert "not implemented in this release" in capsys.readouterr().err
