"""flowctl-conformance compare: flipped checks, measurement deltas, breaking vs compatible."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.compare import compare_results, contract_changes, schema_changes

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"network": {"type": "string"},
                                           "min": {"type": "number"}}, "required": ["network"]}  # fmt: skip


def facts(**info: Any) -> dict[str, Any]:
    base = {"version": "1.0.0", "supported_event_types": ["transaction", "operation"],
            "output_event_types": ["token-transfer"], "capabilities_required": ["logging"],
            "configuration_schema": json.dumps(SCHEMA)}  # fmt: skip
    base.update(info)
    return {"info": base, "functions": {"process-event": "ok", "process-batch": "ok"}}


def result(outcomes: dict[str, str], rate: float, **info: Any) -> dict[str, Any]:
    return {
        "format": "flowctl-conformance-result", "component": facts(**info),
        "checks": [{"id": k, "outcome": v, "messages": [f"{k} {v}"],
                    "measurements": {"events_per_s": rate} if k == "PERF-001" else {}}
                   for k, v in outcomes.items()],
    }  # fmt: skip


def test_the_same_contract_is_no_change() -> None:
    assert contract_changes(facts(), facts()) == []


@pytest.mark.parametrize(
    ("info", "what", "breaking"),
    [
        ({"supported_event_types": ["transaction"]}, "supported_event_types", True),
        ({"supported_event_types": ["transaction", "operation", "ledger"]},
         "supported_event_types", False),
        ({"output_event_types": []}, "output_event_types", True),
        ({"capabilities_required": ["logging", "database"]}, "capabilities_required", True),
        ({"capabilities_required": []}, "capabilities_required", False),
    ],
)  # fmt: skip
def test_get_info_changes_are_classified(info: dict[str, Any], what: str, breaking: bool) -> None:
    (change, *rest) = contract_changes(facts(), facts(**info))
    assert (change.what, change.breaking) == (what, breaking)
    assert all(c.what == "get-info version" for c in rest)  # the version was not bumped


def test_configuration_schema_changes_are_classified() -> None:
    def changed(**edit: Any) -> list[tuple[str, bool]]:
        new = json.loads(json.dumps(SCHEMA))
        for key, value in edit.items():
            new[key] = value
        return [(c.detail, c.breaking) for c in schema_changes(json.dumps(SCHEMA),
                                                               json.dumps(new))]  # fmt: skip

    props: dict[str, Any] = SCHEMA["properties"]
    assert changed(required=["network", "min"]) == [("'min' is now required", True)]
    assert changed(required=[]) == [("'network' is no longer required", False)]
    assert changed(properties={**props, "extra": {"type": "boolean"}}) == [
        ("optional property 'extra' added", False)]  # fmt: skip
    assert changed(properties={"network": props["network"]})[0][1] is True  # 'min' removed
    assert changed(properties={**props, "min": {"type": "string"}}) == [
        ("'min' changed type number -> string", True)]  # fmt: skip


def test_a_function_that_drifted_is_breaking() -> None:
    new = facts()
    new["functions"]["process-batch"] = "result type differs"
    (change, *_) = contract_changes(facts(), new)
    assert change.what == "exported WIT" and change.breaking


def test_results_give_flips_and_deltas() -> None:
    old = result({"ERR-001": "passed", "PERF-001": "passed", "OUT-001": "failed"}, 1000.0)
    new = result({"ERR-001": "failed", "PERF-001": "passed", "OUT-001": "passed"}, 700.0)
    cmp = compare_results(old, new, ("old", "new"))
    assert [(f["id"], f["old"], f["new"]) for f in cmp.flipped] == [
        ("ERR-001", "passed", "failed"), ("OUT-001", "failed", "passed")]  # fmt: skip
    assert [f["id"] for f in cmp.regressions] == ["ERR-001"]
    (rate,) = cmp.measurements
    assert (rate["delta_percent"], rate["worse"]) == (-30.0, True)


def test_the_cli_exits_1_on_breaking_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(result({"ERR-001": "passed"}, 1.0)))
    new.write_text(json.dumps(result({"ERR-001": "passed"}, 1.0,
                                     supported_event_types=["transaction"])))  # fmt: skip
    out = tmp_path / "cmp.json"
    assert main(["compare", str(old), str(new), "--json", str(out)]) == 1
    text = capsys.readouterr().out
    assert "❌ breaking" in text and "'operation' removed" in text
    assert json.loads(out.read_text())["breaking"][0]["what"] == "supported_event_types"
    assert main(["compare", str(old), str(new), "--allow-breaking"]) == 0
    assert main(["compare", str(old), str(old)]) == 0
    assert main(["compare", str(old), str(tmp_path / "none.json")]) == 2
