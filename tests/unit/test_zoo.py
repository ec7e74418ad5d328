"""The broken-component zoo (sample_components/zoo): it builds, loads, and its violations are real.

Every member is built, loaded by the reference host's engine and inspected, and the host's view
of some violations (typed errors, recorded denials) is shown here.  That each member fails
exactly the checks its manifest names -- run through the packaged conformance suite -- is
``tests/integration/test_suite_zoo.py``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import BY_ID, Category
from reference_host import errors
from reference_host import types as t
from reference_host.engine import EngineConfig, HostEngine, LoadedComponent
from reference_host.host import GrantedCapabilities, capabilities_from_policy, limits_from_policy
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.jsonform import event_from_json
from reference_host.policy import Policy, policy_from_mapping
from reference_host.processor import ProcessorInstance
from sample_components.zoo import build as zoo_build
from sample_components.zoo.build import (
    FLOWCTL_WIT,
    ManifestError,
    Member,
    build_zoo,
    drift_wit_text,
    load_manifest,
    member_policy,
    stale_drift,
)

REPO = Path(__file__).resolve().parents[2]
ZOO_DIR = REPO / "sample_components" / "zoo"
ZOO = load_manifest()
MEMBERS = [m.name for m in ZOO.members]
BASELINE = "baseline"

# ------------------------------------------------------------------------------------------
# inputs


def _fixture(file: str) -> dict[str, t.Event]:
    lines = (REPO / "fixtures" / "events" / file).read_text(encoding="utf-8").splitlines()
    events = [event_from_json(json.loads(line)) for line in lines if line.strip()]
    return {e.id: e for e in events}


TRANSACTIONS = list(_fixture("ttp_transactions.jsonl").values())[:3]
OTHER_TYPES = list(_fixture("non_transaction.jsonl").values())
CUSTOM = t.Event(
    "zoo-custom-1", 1_717_000_000, "tests", t.EventType.CUSTOM, t.Generic('{"a": [1, 2]}')
)
TRADE = t.Event("zoo-trade-1", 1_717_000_002, "tests", t.EventType.TRADE, t.Generic("{}"))


#: Fuel per event above which a component is far below any throughput threshold (the baseline
#: uses well under 1 % of it per fixture transaction).
FUEL_PER_EVENT = 5_000_000


# ------------------------------------------------------------------------------------------
# the lab: built components, loaded once, opened under a policy


class Lab:
    """Built zoo components and ways to run them with the reference host."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.host = HostEngine()
        self.fuel_host = HostEngine(EngineConfig(fuel=True))
        self._loaded: dict[tuple[int, str], LoadedComponent] = {}
        self._reports: dict[str, ComponentReport] = {}

    def member(self, name: str) -> Member:
        return ZOO[name]

    def loaded(self, name: str, host: HostEngine | None = None) -> LoadedComponent:
        host = host or self.host
        key = (id(host), name)
        if key not in self._loaded:
            self._loaded[key] = host.load(self.paths[name])
        return self._loaded[key]

    def report(self, name: str) -> ComponentReport:
        if name not in self._reports:
            self._reports[name] = inspect_component(self.host.engine, self.loaded(name).component)
        return self._reports[name]

    def policy(self, name: str, overrides: Mapping[str, Any] | None = None) -> Policy:
        """The member's run policy (sample_components.zoo.build.member_policy), then
        ``overrides``."""
        data = member_policy(self.member(name), overrides)
        return policy_from_mapping(data, source=f"zoo member {name}")

    @contextmanager
    def running(
        self, name: str, **overrides: Any
    ) -> Iterator[tuple[ProcessorInstance, GrantedCapabilities]]:
        """A fresh instance of ``name`` (not initialized) as ``open_processor`` would make it."""
        policy = self.policy(name, overrides)
        limits = limits_from_policy(policy)
        host = self.fuel_host if limits.max_fuel is not None else self.host
        report = self.report(name)
        granted = capabilities_from_policy(policy, name, frozenset(report.flowctl_imports))
        try:
            instance = ProcessorInstance(
                host,
                self.loaded(name, host),
                limits=limits,
                capabilities=granted.all(),
                unknown_imports=policy.unknown_imports,
                allow_wasi=policy.capabilities.wasi,
                component_id=name,
                report=report,
            )
        except errors.ContractError:
            for cap in granted.all():
                cap.close()
            raise
        try:
            yield instance, granted
        finally:
            instance.close()

    @contextmanager
    def initialized(self, name: str, **overrides: Any) -> Iterator[ProcessorInstance]:
        with self.running(name, **overrides) as (instance, _):
            instance.initialize("{}")
            yield instance


#: What inspect_component must say about each WIT-drift member (the drifted type, named).
DRIFT_REPORTS = {
    "drift-extra-field": "record `health-status`: field(s) uptime-ms not in the WIT",
    "drift-renamed-case": "variant `processor-error`: case(s) timed-out not in the WIT; case(s) timeout missing",
    "drift-changed-type": "event.timestamp (u64): expected a u64, the component has a s64",
    "imports-drifted-capability": "import obsrvr:flowctl/logging@1.0.0: log parameter `level`: enum `log-level`",
}


# ------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab(build_zoo(zoo=ZOO))


# ------------------------------------------------------------------------------------------
# the manifest


def test_manifest_names_real_checks_and_covers_every_category() -> None:
    assert len(ZOO.members) >= 25
    for member in ZOO.all():
        assert all(check in BY_ID for check in (*member.fails, *member.may_also_fail)), member.name
        assert member.description
    covered = set().union(*(m.categories for m in ZOO.members))
    assert set(Category) - {Category.GOLDEN} <= covered, set(Category) - covered
    assert [c.name for c in ZOO.controls] == [BASELINE]
    assert ZOO[BASELINE].fails == () and not ZOO[BASELINE].sources


def test_every_member_differs_from_the_baseline_in_its_sources_or_wit() -> None:
    own = [source for m in ZOO.members for source in m.sources]
    assert len(own) == len(set(own))  # no two members share a fragment
    for member in ZOO.members:
        assert member.sources or member.flowctl_wit, member.name
    on_disk = {p.resolve() for p in (ZOO_DIR / "wat").glob("*.wat") if not p.name.startswith("_")}
    assert on_disk == set(own), "every wat/*.wat belongs to exactly one member"


def test_manifest_errors_name_the_problem(tmp_path: Path) -> None:
    text = (ZOO_DIR / "zoo.yaml").read_text(encoding="utf-8")
    for bad, message in (
        (
            text.replace("fails: [LIFE-006]", "fails: [LIFE-999]"),
            r"unknown check ids \['LIFE-999'\]",
        ),
        (text.replace("fails: [OUT-002]", "fails: []"), "names the checks it fails"),
        (text.replace("wat/traps-in-shutdown.wat", "wat/nope.wat"), "nope.wat does not exist"),
        (
            text.replace("name: batch-differs", "name: burns-cpu"),
            r"duplicate names \['burns-cpu'\]",
        ),
        (
            text.replace("    scenario: Any supported event.\n", "    scenery: x\n", 1),
            r"unknown keys \['scenery'\]",
        ),
    ):
        assert bad != text
        manifest = tmp_path / "zoo.yaml"
        manifest.write_text(bad, encoding="utf-8")
        with pytest.raises(ManifestError, match=message):
            load_manifest(manifest, base_dir=ZOO_DIR)


def test_readme_table_lists_every_member_with_its_checks() -> None:
    readme = (ZOO_DIR / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]*) \|", readme, re.MULTILINE)
    table = {name: tuple(re.findall(r"[A-Z]+-\d{3}", checks)) for name, checks in rows}
    assert table == {m.name: m.fails for m in ZOO.all()}


def test_drift_copies_are_current_and_differ_by_their_patch_only() -> None:
    assert stale_drift(ZOO) == [], "run: python sample_components/zoo/build.py --refresh-drift"
    original = FLOWCTL_WIT.read_text(encoding="utf-8")
    drifted = [m for m in ZOO.all() if m.wit_patch is not None]
    assert len(drifted) == 4
    for member in drifted:
        assert member.flowctl_wit is not None and member.wit_patch is not None
        copy = (member.flowctl_wit / "flowctl.wit").read_text(encoding="utf-8")
        body = "".join(
            line for line in copy.splitlines(keepends=True) if not line.startswith("// DRIFT")
        )
        assert body == original.replace(member.wit_patch.find, member.wit_patch.replace)
        assert body != original
        assert "package obsrvr:flowctl@1.0.0;" in body
        # a minimal diff: the patch changes at most two lines
        changed = set(body.splitlines()) ^ set(original.splitlines())
        assert 1 <= len(changed) <= 2, changed
    with pytest.raises(ManifestError, match="occurs 0 times"):
        drift_wit_text(drifted[0], original="package obsrvr:flowctl@1.0.0;\n")


# ------------------------------------------------------------------------------------------
# building and loading


def test_the_whole_zoo_builds_in_seconds(tmp_path: Path) -> None:
    start = time.perf_counter()
    paths = build_zoo(zoo=ZOO, out_dir=tmp_path)
    elapsed = time.perf_counter() - start
    assert set(paths) == {m.name for m in ZOO.all()}
    assert all(p.is_file() and p.read_bytes()[:4] == b"\0asm" for p in paths.values())
    assert elapsed < 15, f"building {len(paths)} components took {elapsed:.1f} s"
    # a second build finds every stamp current and writes nothing
    mtimes = {p: p.stat().st_mtime_ns for p in paths.values()}
    assert build_zoo(zoo=ZOO, out_dir=tmp_path) == paths
    assert {p: p.stat().st_mtime_ns for p in paths.values()} == mtimes


def test_cli_builds_one_member(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert zoo_build.main(["--out", str(tmp_path), "--only", "traps-in-shutdown"]) == 0
    assert (tmp_path / "traps-in-shutdown.wasm").is_file()
    assert "1 components" in capsys.readouterr().out
    assert zoo_build.main(["--out", str(tmp_path), "--only", "nope"]) == 1


@pytest.mark.parametrize("name", [m.name for m in ZOO.all()])
def test_member_loads_and_is_inspectable(lab: Lab, name: str) -> None:
    loaded = lab.loaded(name)
    assert loaded.path == lab.paths[name]
    report = lab.report(name)
    assert report.processor_export
    assert sorted(i.name for i in report.imports) == sorted(ZOO[name].imports)
    if name in DRIFT_REPORTS:
        assert any(DRIFT_REPORTS[name] in d for d in report.drift), report.drift
        assert not report.conforms
    else:
        assert report.drift == ()
        assert set(report.functions.values()) == {"ok"}


# ------------------------------------------------------------------------------------------
# the violations are real


# ------------------------------------------------------------------------------------------
# how the reference host sees some violations (the typed errors, the recorded denials)


def test_host_refuses_what_the_static_members_import(lab: Lab) -> None:
    def opened(name: str) -> None:
        ProcessorInstance(lab.host, lab.loaded(name)).close()

    with pytest.raises(errors.UngrantedImportError, match=r"capabilities\.key_value\.enabled"):
        opened("undeclared-key-value")
    for name in ("imports-wasi-filesystem", "imports-wasi-sockets", "wall-clock-output"):
        with pytest.raises(errors.WasiImportError, match="wasi:"):
            opened(name)
    with pytest.raises(errors.UnknownImportError, match="price-oracle"):
        opened("imports-foreign-interface")
    with pytest.raises(errors.WitDriftError, match="health-status"):
        opened("drift-extra-field")
    with pytest.raises(errors.WitDriftError, match="log-level"):
        opened("imports-drifted-capability")
    opened(BASELINE)


def test_granted_wasi_members_run(lab: Lab) -> None:
    for name in ("imports-wasi-filesystem", "imports-wasi-sockets"):
        with lab.initialized(name) as instance:  # wasi granted: the calls reach wasmtime's WASI
            assert instance.process_batch([CUSTOM, *TRANSACTIONS]) == []


def test_host_refuses_before_initialize_but_the_guest_would_not(lab: Lab) -> None:
    with lab.running("accepts-process-before-initialize") as (instance, _):
        with pytest.raises(errors.LifecycleError, match="call initialize"):
            instance.process_event(CUSTOM)
        assert instance.measurements == []  # the guest was not entered
    with lab.running("accepts-process-before-initialize") as (instance, _):
        assert instance.call_unchecked("process-event", CUSTOM) == t.Ok([])  # the guest would
        assert instance.measurements[-1].function == "process-event"


@pytest.mark.parametrize(
    ("name", "capability", "case"),
    [
        ("http-denial-traps", "HttpClientCapability", "forbidden"),
        ("sql-denial-traps", "SqlCapability", "permission-denied"),
        ("kv-denial-traps", "KeyValueHostCapability", "permission-denied"),
    ],
)
def test_denied_call_then_trap(lab: Lab, name: str, capability: str, case: str) -> None:
    with lab.running(name) as (instance, granted):
        instance.initialize("{}")
        with pytest.raises(errors.GuestTrap, match="unreachable") as trap:
            instance.process_event(CUSTOM)
        assert trap.value.recycled
        assert instance.process_event(OTHER_TYPES[0]) == []  # an unsupported type: no call, no trap
        (cap,) = granted.others
        assert type(cap).__name__ == capability
        assert [d.case for d in cap.denials] == [case]  # type: ignore[attr-defined]


def test_limit_members_raise_the_hosts_typed_errors(lab: Lab) -> None:
    with lab.initialized("infinite-loop", execution_timeout=0.05) as instance:
        start = time.perf_counter()
        with pytest.raises(errors.CallTimeoutError, match="execution_timeout"):
            instance.process_batch([CUSTOM])
        assert time.perf_counter() - start < 2
    with lab.initialized("slow-finite-loop", max_fuel=50_000_000) as instance:
        with pytest.raises(errors.OutOfFuelError, match="max_fuel"):
            instance.process_event(CUSTOM)
        # only supported events loop: the instance is recycled and answers the others at once
        assert instance.process_event(OTHER_TYPES[0]) == []
    with lab.initialized("deep-recursion") as instance, pytest.raises(errors.StackExhaustedError):
        instance.process_event(CUSTOM)
    for pages in (20, 48):
        with lab.initialized("memory-bomb", max_memory_pages=pages) as instance:
            with pytest.raises(errors.ProcessorErrorResult, match="resource-exhausted"):
                instance.process_event(CUSTOM)
            # it grew until the host's limit refused more
            assert instance.health_check().details == [("memory-pages", f"{pages:05d}")]


def test_output_flood_exceeds_the_hosts_output_limit(lab: Lab) -> None:
    # under its scenario policy (512 pages) the host's default max_output_events stops it
    with (
        lab.initialized("output-flood") as instance,
        pytest.raises(errors.OutputLimitError, match="100001 events, more than max_output_events"),
    ):
        instance.process_event(CUSTOM)
    with (
        lab.initialized("output-flood", max_memory_pages=64) as instance,
        pytest.raises(errors.ProcessorErrorResult, match="resource-exhausted"),
    ):
        instance.process_event(CUSTOM)


def test_output_members_show_their_outputs(lab: Lab) -> None:
    with lab.initialized("duplicate-output-ids") as instance:
        assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id, CUSTOM.id]
    with lab.initialized("undeclared-output-type") as instance:
        assert [o.event_type for o in instance.process_event(CUSTOM)] == [t.EventType.TRADE]
    with lab.initialized("batch-differs") as instance:
        assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]
        assert [o.id for o in instance.process_batch([CUSTOM, TRADE, *TRANSACTIONS])] == [
            CUSTOM.id, *(e.id for e in TRANSACTIONS[:-1])
        ]  # fmt: skip


@pytest.mark.parametrize("name", ["wall-clock-output", "random-output"])
def test_nondeterministic_members_differ_only_in_the_timestamp(lab: Lab, name: str) -> None:
    outputs = []
    for _ in range(2):
        with lab.initialized(name) as instance:
            outputs.append(instance.process_event(CUSTOM))
    (first,), (second,) = outputs
    assert first.timestamp != second.timestamp
    first.timestamp = second.timestamp
    assert first == second
    if name == "wall-clock-output":
        assert abs(second.timestamp - time.time_ns()) < 60 * 10**9


def test_burns_cpu_costs_about_fifty_million_fuel_per_event(lab: Lab) -> None:
    with lab.initialized("burns-cpu", max_fuel=10**9) as instance:
        instance.process_event(CUSTOM)
        fuel = instance.measurements[-1].fuel_used
    with lab.initialized(BASELINE, max_fuel=10**9) as instance:
        instance.process_event(CUSTOM)
        baseline_fuel = instance.measurements[-1].fuel_used
    assert fuel is not None and baseline_fuel is not None
    assert 40_000_000 < fuel < 70_000_000
    assert baseline_fuel < FUEL_PER_EVENT // 100
