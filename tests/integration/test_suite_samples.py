"""The good samples pass every mandatory check of the packaged suite, as users run it.

TTP (Python) at the marketplace tier under pytest-xdist (``-n 2``), with the repository's golden
files; account-balance (JavaScript) at the standard tier on real PostgreSQL, Redis and a fixture
HTTP server (its throughput is below the marketplace defaults: the numbers are in its result).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance_run import REPO, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AB = REPO / "fixtures" / "conformance" / "account_balance"


@pytest.fixture(scope="module")
def samples() -> dict[str, Path]:
    from sample_components.build import build_all

    return {Path(b.path).stem: Path(b.path) for b in build_all()}


def test_ttp_is_certified_at_the_marketplace_tier_under_xdist(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    events, expected = REPO / "fixtures" / "events", REPO / "fixtures" / "expected" / "ttp"
    run = run_suite(
        samples["ttp_processor"], tmp_path,
        "--component-config", str(REPO / "fixtures" / "configs" / "ttp.json"),
        "--conformance-level", "marketplace", "-n", "2",
        "--conformance-golden",
        f"{events / 'ttp_transactions.jsonl'}:{expected / 'ttp_transactions__ttp.jsonl'}",
        "--conformance-golden",
        f"{events / 'ttp_malformed.jsonl'}:{expected / 'ttp_malformed__ttp.jsonl'}",
    )  # fmt: skip
    assert run.returncode == 0, run.output[-4000:]
    assert run.result is not None and run.result["certified"], run.result
    assert run.result["blocking"] == []
    assert run.outcome("GOLD-001") == "passed"
    assert run.outcome("PERF-001") == "passed" and run.outcome("PERF-002") == "passed"
    assert "tier=marketplace CERTIFIED" in run.output
    assert run.result["component"]["info"]["name"]
    life = next(c for c in run.result["checks"] if c["id"] == "LIFE-002")["measurements"]
    assert life["generation_problem"] is None and life["valid_configs_tried"] > 10
    perf = next(c for c in run.result["checks"] if c["id"] == "PERF-002")
    assert {"events_per_s", "p50_ms", "p95_ms", "p99_ms"} <= set(perf["measurements"])


def test_account_balance_is_certified_at_the_standard_tier_on_real_services(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    run = run_suite(
        samples["account_balance"], tmp_path,
        "--component-config", str(AB / "config.json"),
        "--conformance-policy", str(AB / "policy.yaml"),
        "--conformance-db-setup", str(AB / "schema.sql"),
        "--conformance-http-fixture", str(AB / "http.json"),
        "--conformance-level", "standard", "--conformance-services", "embedded",
    )  # fmt: skip
    assert run.returncode == 0, run.output[-4000:]
    assert run.result is not None and run.result["certified"]
    assert run.outcome("SBX-003") == "passed"
    assert run.result["environment"]["services"] == {"PostgreSQL": "embedded", "Redis": "embedded"}
    calls = next(c for c in run.result["checks"] if c["id"] == "SBX-005")["measurements"]["calls"]
    assert calls["database.execute"] > 0 and calls["key-value.set"] > 0
    assert calls["http-client.request"] > 0


def test_the_headline_command_certifies_the_ttp_sample(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """`pytest --component ttp_processor.wasm`, nothing else: the config comes from the
    component's own configuration-schema examples, the tier is the default (standard)."""
    run = run_suite(samples["ttp_processor"], tmp_path)
    assert run.returncode == 0, run.output[-4000:]
    assert run.result is not None and run.result["certified"]
    assert run.result["tier"] == "standard" and run.result["certified_tier"] == "standard"
    config = run.result["earned_under"]["component_config"]
    assert config["source"] == "configuration-schema examples[0]"
    assert run.result["violations"] == [] and run.result["caps"] == []
