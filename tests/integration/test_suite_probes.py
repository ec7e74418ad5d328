"""SBX-004 (host regression): the probe corpus through the live capabilities, and proof that a
host whose rules let probes through fails the check."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.probes import run_corpus
from conformance.services import ServiceMode, Services
from conformance.settings import SuiteSettings
from reference_host.rules import KeyRules, SqlRules, UrlRules

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    # embedded explicitly: in auto mode a Docker engine answering would provide containers
    settings = SuiteSettings(component=Path("unused.wasm"), services=ServiceMode.EMBEDDED)
    svc = Services(settings, environ={})
    try:
        yield svc
    finally:
        svc.close()


def test_the_reference_host_blocks_every_refused_probe_live(services: Services) -> None:
    counts, failures = run_corpus(services)
    assert failures == []
    assert counts["database"] >= 50 and counts["key-value"] >= 15 and counts["http"] >= 40
    assert services.origins() == {"PostgreSQL": "embedded", "Redis": "embedded"}


Rules = type[SqlRules] | type[KeyRules] | type[UrlRules]


def _allow_everything(cls: Rules, monkeypatch: pytest.MonkeyPatch) -> None:
    original = cls.check

    def check(self: Any, *args: Any, **kwargs: Any) -> Any:
        return dataclasses.replace(original(self, *args, **kwargs), allowed=True)

    monkeypatch.setattr(cls, "check", check)


@pytest.mark.parametrize(
    ("rules", "prefix"), [(SqlRules, "SQL-PROBE"), (KeyRules, "KV-PROBE"), (UrlRules, "HTTP-PROBE")]
)
def test_a_host_whose_rules_let_probes_through_fails(
    services: Services, monkeypatch: pytest.MonkeyPatch, rules: Rules, prefix: str
) -> None:
    _allow_everything(rules, monkeypatch)
    _, failures = run_corpus(services)
    assert failures, "a broken host passed SBX-004"
    assert all(f.startswith(prefix) for f in failures), failures[:3]


# --------------------------------------------------------------------------- over the wire

SERVE = "serve --pipeline {policy} --component {component} --port {port} --allow-refused-config"


def _through(host: str, services: Services, tmp_path: Path) -> tuple[dict[str, Any], list[str]]:
    from conformance.wire_probes import run_corpus_through

    return run_corpus_through(host, services, workdir=tmp_path)


def test_the_probe_guests_meet_our_served_host_refusing_every_probe(
    services: Services, tmp_path: Path
) -> None:
    counts, failures = _through(f"flowctl-host {SERVE}", services, tmp_path)
    assert failures == []
    sent = counts["sent_through_guest"]
    assert counts["answered"] == sent  # every probe event came back answered
    assert sent["database"] >= 100 and sent["key-value"] >= 15 and sent["http-client"] >= 80


def test_a_served_host_with_a_substring_sql_rule_is_caught_through_the_guest(
    services: Services, tmp_path: Path
) -> None:
    host = f"{sys.executable} -m tests.broken_hosts.sql_substring {SERVE}"
    _, failures = _through(host, services, tmp_path)
    # the design document's own example: the comment names an allowed table, the host sends it
    assert any(
        f.startswith("SQL-PROBE-001 (call") and "the host answered ok" in f for f in failures
    ), failures[:5]
    assert all(f.startswith(("SQL-PROBE", "database")) for f in failures)


def test_a_host_that_cannot_start_the_probe_guest_fails_every_group(
    services: Services, tmp_path: Path
) -> None:
    counts, failures = _through(
        f"{sys.executable} -c 'import sys; sys.exit(3)'", services, tmp_path
    )
    assert all("exited with code 3" in f for f in failures), failures
    assert {f.split(" probes ")[0] for f in failures} == {"http-client", "database", "key-value"}
    assert sum(counts["answered"].values()) == 0
