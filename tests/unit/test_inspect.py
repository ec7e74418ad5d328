"""inspect: imports classified, worlds computed, missing export and drift named, no instantiation."""

from __future__ import annotations

import pytest

from reference_host import errors
from reference_host.engine import HostEngine
from reference_host.inspect import inspect_component
from reference_host.linking import check_contract
from tests.guests.build import build_guest


@pytest.fixture(scope="module")
def host() -> HostEngine:
    return HostEngine()


def report(host: HostEngine, name: str):  # type: ignore[no-untyped-def]
    return inspect_component(host.engine, host.load(build_guest(name)).component)


def test_noop_satisfies_every_world(host: HostEngine) -> None:
    r = report(host, "noop")
    assert r.conforms
    assert set(r.worlds) == {"flowctl-processor", "flowctl-processor-basic", "flowctl-processor-http",
                             "flowctl-processor-database", "flowctl-processor-full"}  # fmt: skip
    assert r.imports == ()


def test_all_imports_satisfy_only_the_full_worlds(host: HostEngine) -> None:
    r = report(host, "imports-all")
    assert r.worlds == ("flowctl-processor", "flowctl-processor-full")
    assert len(r.flowctl_imports) == 6


def test_wasi_import_is_classified_and_excludes_every_world(host: HostEngine) -> None:
    r = report(host, "imports-wasi")
    assert r.wasi_imports == ("wasi:cli/environment@0.2.0",)
    assert r.conforms
    assert r.worlds == ()


def test_non_processor_component_is_refused(host: HostEngine) -> None:
    r = report(host, "echo-types")
    assert not r.processor_export
    with pytest.raises(
        errors.MissingProcessorExportError, match="does not export obsrvr:flowctl/processor"
    ):
        check_contract(r)


def test_drift_names_the_first_differing_type(host: HostEngine) -> None:
    r = report(host, "noop-drift")
    assert not r.conforms
    assert r.functions["initialize"] == "ok"
    assert "record `event`: field(s) extra not in the WIT" in r.functions["process-event"]
    with pytest.raises(errors.WitDriftError, match="Rebuild it against"):
        check_contract(r)


def test_to_dict_is_json_ready(host: HostEngine) -> None:
    import json

    d = report(host, "imports-http").to_dict()
    assert json.loads(json.dumps(d))["conforms"] is True
