"""Smoke test of the peer benchmarks: ``python -m benchmarks.peers --quick`` runs and agrees.

Runs the quick benchmark in a subprocess (< 60 s), then checks that the JSON report is complete,
that jco's echo outputs equal ours (a third, independent canonical-ABI implementation), and that
no *gross* ratio regression happened.  The machine is noisy and shared, so there are no tight
timing thresholds: only ratios an order of magnitude away from the measured ones fail.

Run: python -m pytest tests/integration/test_bench_peers.py -p no:xdist
Needs Node and npm (the first run does ``npm ci`` in benchmarks/jco, needing the npm registry);
without them the jco assertions are skipped, the rest still runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conformance_run import run_benchmark

REPO = Path(__file__).resolve().parents[2]
BATCHES = ("1", "10", "100", "1000")
GUESTS = ("echo", "noop")
IMPORT_KINDS = ("log", "metric", "config")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


@pytest.mark.slow
def test_peers_quick(tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    report = run_benchmark("peers", out, "--quick")
    for key in ("environment", "conversion", "single_call", "import_call", "notes"):
        assert key in report, key
    assert report["environment"]["wasmtime_py"]
    have_jco = report["environment"]["jco"] is not None
    if not have_jco:
        assert any("jco columns are null" in n for n in report["notes"]), report["notes"]
    node_missing = shutil.which("node") is None or shutil.which("npm") is None

    def check_row(row: dict[str, Any], cols: tuple[str, ...]) -> None:
        for col in cols:
            assert _number(row[col]), (col, row)
        if have_jco:
            assert _number(row["jco_us"]), row
        else:
            assert row["jco_us"] is None, row

    for guest in GUESTS:
        assert set(report["conversion"][guest]) == set(BATCHES)
        for b in BATCHES:
            check_row(report["conversion"][guest][b], ("ours_us", "stock_us", "floor_us"))
        check_row(report["single_call"][guest], ("ours_us", "stock_us", "floor_us"))
    for kind in IMPORT_KINDS:
        check_row(report["import_call"][kind], ("ours_us", "ours_trivial_us", "stock_us"))
        assert set(report["import_calls_per_event"][kind].values()) == {1}, report[
            "import_calls_per_event"
        ]

    if have_jco:
        assert report["jco_outputs_equal"] is True, report["jco_first_difference"]
    elif not node_missing:
        pytest.fail(f"node and npm are installed but jco did not run: {report['notes']}")

    # gross regressions only.  Measured on a shared 2-CPU machine at batch 100: stock/ours
    # 50-80x, ours/jco 4-7x, single figures up to 2x apart between runs under load; so ours
    # slower than a tenth of stock, or more than 60x jco, means something broke -- not noise.
    # (CI's 2 cores run another test beside this one: ours/jco reached 27x there, Python
    # suffering more than Node under load; stock/ours, both Python in one process, stays ~50x)
    for guest in GUESTS:
        row = report["conversion"][guest]["100"]
        assert 10 * row["ours_us"] < row["stock_us"], (guest, row)
        if have_jco:
            assert row["ours_us"] < 60 * row["jco_us"], (guest, row)
    for kind in IMPORT_KINDS:
        row = report["import_call"][kind]
        assert row["ours_us"] < row["stock_us"], (kind, row)
