"""GOLD-001 both ways: golden files that match pass, golden files that do not fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sample_components.zoo.build import build_zoo
from tests.conformance_run import REPO, run_suite

pytestmark = pytest.mark.integration


def test_golden_files_pass_when_they_match_and_fail_when_they_do_not(tmp_path: Path) -> None:
    baseline = build_zoo(names=["baseline"])["baseline"]
    events = (REPO / "fixtures" / "events" / "ttp_transactions.jsonl").read_text().splitlines()[:3]
    given = tmp_path / "in.jsonl"
    given.write_text("\n".join(events) + "\n")
    ids = [json.loads(line)["id"] for line in events]
    # the baseline emits nothing for a transaction: per-input records say ok([])
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"input-id": i, "ok": []}) + "\n" for i in ids))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text().replace('"ok": []', '"err": {"invalid-event": "x"}', 1))
    for expected, outcome in ((good, "passed"), (bad, "failed")):
        out = tmp_path / expected.stem
        out.mkdir()
        run = run_suite(
            baseline, out, "--conformance-golden", f"{given}:{expected}",
            "--conformance-examples", "5", "-k", "golden",
        )  # fmt: skip
        assert run.outcome("GOLD-001") == outcome, run.output[-2000:]
    assert run.messages("GOLD-001")[0].startswith(f'GOLD-001: {ids[0]}: got {{"ok": []}}')
