"""GOLD-001 both ways: golden files that match pass, golden files that do not fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sample_components.zoo.build import build_zoo
from tests.conformance_run import REPO, run_suite

pytestmark = pytest.mark.integration


def test_golden_files_pass_when_they_match_and_fail_when_they_do_not(tmp_path: Path) -> None:
    baseline = build_zoo(names=["baseline"])["baseline"]
    events = (REPO / "fixtures" / "events" / "ttp_transactions.jsonl").read_text().splitlines()[:3]
    given = tmp_path / "in.jsonl"
    given.write_text("\n".join(events) + "\n")
    parsed = [json.loads(line) for line in events]
    ids = [e["id"] for e in parsed]

    def derived(event: dict[str, Any]) -> dict[str, Any]:
        # the baseline's one output per well-formed event
        return {"id": event["id"], "timestamp": event["timestamp"],
                "source-component": "flowctl-zoo", "event-type": "custom",
                "data": {"generic": "{}"}, "metadata": []}  # fmt: skip

    good = tmp_path / "good.jsonl"
    good.write_text(
        "".join(json.dumps({"input-id": e["id"], "ok": [derived(e)]}) + "\n" for e in parsed)
    )
    bad = tmp_path / "bad.jsonl"
    _first, *rest = good.read_text().splitlines()
    bad.write_text(
        "\n".join([json.dumps({"input-id": ids[0], "err": {"invalid-event": "x"}}), *rest]) + "\n"
    )
    for expected, outcome in ((good, "passed"), (bad, "failed")):
        out = tmp_path / expected.stem
        out.mkdir()
        run = run_suite(
            baseline, out, "--conformance-golden", f"{given}:{expected}",
            "--conformance-examples", "5", "-k", "golden",
        )  # fmt: skip
        assert run.outcome("GOLD-001") == outcome, run.output[-2000:]
    assert run.messages("GOLD-001")[0].startswith(f'GOLD-001: {ids[0]}: got {{"ok": [{{')
