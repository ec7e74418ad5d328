"""``python -m benchmarks.report``: the TTP profile and serve parts run (quick), the result file
judges every target, and a part that did not run is never counted as met."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance_run import run_benchmark

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_report_runs_the_ttp_and_serve_parts(tmp_path: Path) -> None:
    from sample_components.build import build_sample

    build_sample("ttp_processor")
    out = tmp_path / "benchmarks.json"
    result = run_benchmark(
        "report", out, "--quick", "--only", "ttp", "--only", "serve", "--no-readme", timeout=600
    )
    ttp, serve = result["parts"]["ttp"], result["parts"]["serve"]
    assert ttp["events_per_s_process_batch"] > 0 and ttp["fuel_per_event_median"] > 0
    assert 0 < ttp["host_share_conversion"] < 1 and 0 < ttp["host_share_profiled"] < 1
    assert ttp["batch_p50_ms"] <= ttp["batch_p95_ms"] <= ttp["batch_p99_ms"]
    labels = [r["label"] for r in serve["runs"]]
    assert any("2 serve processes" in label for label in labels), labels
    assert serve["best"]["events_per_s"] == max(r["events_per_s"] for r in serve["runs"])
    by_name = {row["target"]: row for row in result["targets"]}
    assert len(by_name) == 8
    peers_rows = [r for r in result["targets"] if "conversion" in r["target"]]
    assert peers_rows and all(r["met"] is None and r["measured"] is None for r in peers_rows)
    assert out.with_suffix(".svg").exists()
