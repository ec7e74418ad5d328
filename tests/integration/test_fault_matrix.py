"""The fault matrix (``python -m benchmarks.fault_matrix``) on real services: every row holds.

Embedded PostgreSQL and Redis killed and restarted on their ports or frozen (SIGSTOP), a real HTTP
server that is slow, answers 5xx, resets, trickles or floods, a resolver whose answer moves: each
gives the typed error within the call budget and the same capability recovers by itself; the
account-balance sample loses no event and applies none twice while PostgreSQL crashes mid-run.
"""

from __future__ import annotations

import shutil

import pytest

from benchmarks.fault_matrix import run_matrix

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_fault_gives_its_typed_error_in_time_and_the_host_recovers() -> None:
    pipeline = shutil.which("npm") is not None and shutil.which("node") is not None
    matrix = run_matrix(pipeline=pipeline)
    broken = [r.to_dict() for r in matrix.rows if not r.held]
    assert not broken, broken
    boundaries = {r.boundary for r in matrix.rows}
    assert boundaries == {"database", "key-value", "http-client"}
    assert len(matrix.rows) == 10
    if pipeline:
        p = matrix.pipeline
        assert p is not None and p["held"], p
        assert p["answered"] == p["events"] and p["traps"] == 0
        assert p["balances_match_ok_events"]
        assert p["failed_during_outage"] == p["restart_at"] - p["crash_at"]
