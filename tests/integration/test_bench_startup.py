"""Smoke test of the start-up benchmark: ``python -m benchmarks.startup --quick`` runs and agrees.

Runs the quick benchmark in a subprocess (< 60 s, most of it one cold compile of the 18 MB TTP
sample), then checks that the JSON report is complete and that no *gross* regression happened.
The machine is noisy and shared, so there are no absolute timing thresholds: only ratios far
from the measured ones fail (measured on 2 cores: warm start ~0.3 s, cold ~10-17 s, bare python
~17 ms, ``import wasmtime.component`` ~95 ms).  Memory is not timing: the RSS an instance adds
is held to the issue's target (< 30 MB; measured ~7.4 MB).

Run: python -m pytest tests/integration/test_bench_startup.py -p no:xdist
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance_run import run_benchmark

REPO = Path(__file__).resolve().parents[2]
COMPONENT = REPO / "sample_components" / "dist" / "ttp_processor.wasm"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


@pytest.mark.slow
def test_startup_quick(tmp_path: Path) -> None:
    from sample_components.build import build_sample

    assert build_sample("ttp_processor").path == COMPONENT  # built when missing (~20 s)
    out = tmp_path / "startup.json"
    report = run_benchmark("startup", out, "--quick")
    for key in ("environment", "startup", "rss", "notes"):
        assert key in report, key
    s, r = report["startup"], report["rss"]
    for key in (
        "warm_cache_ms",
        "warm_cache_first_output_ms",
        "warm_cache_environment_as_is_ms",
        "cold_cache_ms",
        "python_bare_ms",
        "import_wasmtime_ms",
        "import_wasmtime_component_ms",
    ):
        assert _number(s[key]), (key, s[key])
    assert len(s["importtime_top"]) == 15
    assert all(_number(row["cumulative_ms"]) and row["module"] for row in s["importtime_top"])
    for phase in ("import_cli", "load_policy", "deserialize_component", "process_first_event"):
        assert _number(s["phases_ms"][phase]), phase

    # gross regressions only (ratios; the measured ones in the docstring)
    assert s["warm_cache_ms"] * 3 < s["cold_cache_ms"], "the compile cache is not used"
    assert s["python_bare_ms"] < s["import_wasmtime_component_ms"] < s["warm_cache_ms"]
    assert s["warm_cache_ms"] < 12 * s["import_wasmtime_component_ms"], s
    assert s["warm_cache_first_output_ms"] <= s["warm_cache_ms"]
    # a warm start no longer builds the reference component with wasm-tools (2 subprocesses)
    assert s["phases_ms"]["inspect_link_instantiate"] < 10 * s["python_bare_ms"] + 50, s
    # what the TTP policy does not grant is not imported (pglast, idna, prometheus-client, ...)
    assert s["heavy_modules_loaded"] == [], s["heavy_modules_loaded"]

    assert _number(r["one_instance_mb"])
    assert len(r["per_further_instance_mb"]) == 7
    assert r["per_further_instance_median_mb"] < 30, r
    assert r["one_instance_mb"] < r["8_instances_mb"]
    if "serve_idle_mb" in r:
        assert _number(r["serve_idle_mb"])
        assert r["serve_stream_answers"] > 0
    else:
        assert any("serve RSS not measured" in n for n in report["notes"]), report["notes"]
