"""The sandbox probe corpus (fixtures/probes/*.yaml) against the pure rules."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_host.rules import (
    KeyDecision,
    KeyRules,
    SqlDecision,
    SqlRules,
    UrlDecision,
    UrlRules,
    expected_error_case,
)

PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "probes"
FILES = {"http.yaml": "http-client", "sql.yaml": "database", "kv.yaml": "key-value"}
PREFIX = {"http-client": "HTTP", "database": "SQL", "key-value": "KV"}
ERRORS = {
    "http-client": {"invalid-url", "forbidden"},
    "database": {"invalid-query", "permission-denied"},
    "key-value": {"invalid-key", "permission-denied", "storage-full", "unknown-error"},
}
EXPECT_KEYS = {"error", "allowed", "why", "hop", "url", "tables", "pattern", "full_key", "value"}


@functools.cache
def _load(name: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load((PROBES / name).read_text(encoding="utf-8"), Loader=loader)
    assert isinstance(data, dict)
    return data


def _all_probes() -> list[tuple[str, dict[str, Any]]]:
    return [(FILES[name], probe) for name in FILES for probe in _load(name)["probes"]]


ALL = _all_probes()


# ---------------------------------------------------------------------- running one probe


def _run_http(probe: dict[str, Any]) -> tuple[UrlDecision, int]:
    rules = UrlRules(probe["grant"]["allowed_domains"])
    decision = rules.check(probe["input"]["url"])
    assert rules.is_allowed(probe["input"]["url"]) is decision.allowed
    for hop, location in enumerate(probe["input"].get("redirects", []), start=1):
        if not decision.allowed:
            return decision, hop - 1
        decision = rules.check_redirect(decision, location)
        if not decision.allowed:
            return decision, hop
    return decision, 0


def _run_sql(probe: dict[str, Any]) -> SqlDecision:
    grant = probe["grant"]
    rules = SqlRules(grant["allowed_tables"], grant["allowed_operations"])
    data = probe["input"]
    function = data["function"]
    if function == "is-query-allowed":
        return rules.check(data["sql"])
    return rules.check(data["sql"], function, data["params"])


def _run_kv(probe: dict[str, Any]) -> KeyDecision:
    rules = KeyRules(probe["grant"]["namespace"])
    data = probe["input"]
    if data["op"] == "list-keys":
        return rules.check(data["prefix"], prefix=True)
    key = data["key"] if "key" in data else data["key_repeat"][0] * data["key_repeat"][1]
    decision = rules.check(key)
    if decision.allowed and data["op"] == "increment":
        return rules.check_increment(data["current"], data["delta"])
    return decision


# ---------------------------------------------------------------------- corpus shape


def test_corpus_size_and_controls() -> None:
    assert len(ALL) >= 60
    for capability in FILES.values():
        probes = [p for c, p in ALL if c == capability]
        controls = [p for p in probes if p["expect"].get("allowed") is True]
        assert len(probes) >= 20, capability
        assert len(controls) >= 3, capability
        assert len(probes) - len(controls) >= 15, capability


def test_ids_are_unique_and_well_formed() -> None:
    ids = [probe["id"] for _, probe in ALL]
    assert len(ids) == len(set(ids))
    for capability, probe in ALL:
        assert re.fullmatch(rf"{PREFIX[capability]}-PROBE-\d{{3}}", probe["id"]), probe["id"]


@pytest.mark.parametrize("name", sorted(FILES))
def test_file_declares_its_capability(name: str) -> None:
    assert _load(name)["capability"] == FILES[name]


@pytest.mark.parametrize(("capability", "probe"), ALL, ids=[p["id"] for _, p in ALL])
def test_probe_is_well_formed(capability: str, probe: dict[str, Any]) -> None:
    assert set(probe) == {"id", "input", "grant", "expect"}
    expect = probe["expect"]
    assert set(expect) <= EXPECT_KEYS
    assert isinstance(expect["why"], str) and expect["why"].strip()
    assert ("error" in expect) != (expect.get("allowed") is True)
    if "error" in expect:
        assert expect["error"] in ERRORS[capability]


# ---------------------------------------------------------------------- the rules agree


@pytest.mark.parametrize(("capability", "probe"), ALL, ids=[p["id"] for _, p in ALL])
def test_rules_give_the_expected_decision(capability: str, probe: dict[str, Any]) -> None:
    expect = probe["expect"]
    decision: UrlDecision | SqlDecision | KeyDecision
    if capability == "http-client":
        url_decision, hop = _run_http(probe)
        assert hop == expect.get("hop", 0), url_decision.reason
        if "url" in expect:
            assert url_decision.url == expect["url"]
        decision = url_decision
    elif capability == "database":
        sql_decision = _run_sql(probe)
        if "tables" in expect:
            assert list(sql_decision.tables) == expect["tables"]
        decision = sql_decision
    else:
        key_decision = _run_kv(probe)
        rules = KeyRules(probe["grant"]["namespace"])
        if "pattern" in expect:
            assert rules.scan_pattern(probe["input"]["prefix"]) == expect["pattern"]
        if "full_key" in expect:
            assert key_decision.full_key == expect["full_key"]
        if "value" in expect:
            assert key_decision.value == expect["value"]
        decision = key_decision
    assert expected_error_case(decision) == expect.get("error"), decision.reason
    assert decision.allowed is expect.get("allowed", False)
    assert decision.reason


def test_every_error_case_is_exercised() -> None:
    seen = {(c, p["expect"]["error"]) for c, p in ALL if "error" in p["expect"]}
    for capability in FILES.values():
        wanted = {
            "http-client": {"invalid-url", "forbidden"},
            "database": {"invalid-query", "permission-denied"},
            "key-value": {"invalid-key", "permission-denied", "unknown-error"},
        }[capability]
        assert {e for c, e in seen if c == capability} == wanted
