"""SBX-004 (host regression): the probe corpus through the live capabilities, and proof that a
host whose rules let probes through fails the check."""

from __future__ import annotations

import dataclasses
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
