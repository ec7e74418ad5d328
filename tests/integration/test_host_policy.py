"""open_processor: a pipeline policy becomes linked capabilities on real backends, deny by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.services import start_postgres, start_redis
from reference_host import errors, interfaces
from reference_host import types as t
from reference_host.capabilities.database import DatabaseCapability
from reference_host.capabilities.http_client import HttpClientCapability
from reference_host.capabilities.key_value import KeyValueCapability
from reference_host.host import open_processor
from reference_host.policy import policy_from_mapping
from tests.guests.build import build_guest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def urls() -> Iterator[tuple[str, str]]:
    with start_postgres("embedded") as pg, start_redis("embedded") as rd:
        yield pg.endpoint.url, rd.endpoint.url


def full_policy(pg: str, rd: str, **over: Any) -> Any:
    caps: dict[str, Any] = {
        "logging": True,
        "metrics": True,
        "config": True,
        "http": {"enabled": True, "allowed_domains": ["api.example.com"]},
        "database": {"enabled": True, "connection_string": pg, "allowed_tables": ["t"]},
        "key_value": {"enabled": True, "backend": "redis", "url": rd, "namespace": "proc"},
    }
    caps.update(over)
    return policy_from_mapping({"capabilities": caps, "processor_config": {"a": 1}})


def test_all_six_granted_are_linked_on_real_backends(urls: tuple[str, str], tmp_path: Path) -> None:
    policy = full_policy(*urls)
    inst, granted = open_processor(policy, build_guest("imports-all"), cache_dir=tmp_path)
    try:
        kinds = {type(c) for c in granted.others}
        assert kinds == {HttpClientCapability, DatabaseCapability, KeyValueCapability}
        assert granted.logging and granted.metrics and granted.config
        inst.initialize(policy.processor_config)
        ev = t.Event("e", 1, "s", t.EventType.CUSTOM, t.Generic("x"), [])
        assert inst.process_event(ev) == []  # instantiated, initialized and usable
        assert set(inst.report.flowctl_imports) == set(interfaces.CAPABILITIES)
    finally:
        inst.close()


def test_a_missing_grant_is_refused_naming_its_key(urls: tuple[str, str], tmp_path: Path) -> None:
    policy = full_policy(*urls, key_value={"enabled": False})
    with pytest.raises(
        errors.UngrantedImportError, match=r"capabilities\.key_value\.enabled: true"
    ):
        open_processor(policy, build_guest("imports-all"), cache_dir=tmp_path)


def test_grants_the_component_does_not_import_cost_nothing(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    # database granted without a connection string: fine, because echo imports nothing
    policy = full_policy(*urls, database={"enabled": True})
    inst, granted = open_processor(policy, build_guest("echo"), cache_dir=tmp_path)
    try:
        assert granted.all() == []
    finally:
        inst.close()


def test_granted_but_misconfigured_database_names_the_fix(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    policy = full_policy(*urls, database={"enabled": True})
    with pytest.raises(errors.PolicyError, match="connection_string"):
        open_processor(policy, build_guest("imports-all"), cache_dir=tmp_path)


def test_trap_mode_loads_with_ungranted_imports(urls: tuple[str, str], tmp_path: Path) -> None:
    policy = policy_from_mapping({"unknown_imports": "trap"})
    inst, granted = open_processor(policy, build_guest("imports-all"), cache_dir=tmp_path)
    try:
        assert granted.all() == []
        inst.initialize("{}")
    finally:
        inst.close()
