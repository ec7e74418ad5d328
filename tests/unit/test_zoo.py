"""The broken-component zoo (sample_components/zoo): it builds, loads, and its violations are real.

Every member is built, loaded by the reference host's engine and inspected, and the host's view
of some violations (typed errors, recorded denials) is shown here.  That each member fails
exactly the checks its manifest names -- run through the packaged conformance suite -- is
``tests/integration/test_suite_zoo.py``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import BY_ID, Category
from conformance.configs import draw
from reference_host import errors
from reference_host import types as t
from reference_host.backends.memory import MemoryBackend
from reference_host.capabilities.key_value import KeyValueCapability
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


TTP = _fixture("ttp_transactions.jsonl")
TRANSACTIONS = list(TTP.values())[:3]
OTHER_TYPES = list(_fixture("non_transaction.jsonl").values())
MALFORMED = _fixture("ttp_malformed.jsonl")
CUSTOM = t.Event(
    "zoo-custom-1", 1_717_000_000, "tests", t.EventType.CUSTOM, t.Generic('{"a": [1, 2]}')
)
TRADE = t.Event("zoo-trade-1", 1_717_000_002, "tests", t.EventType.TRADE, t.Generic("{}"))
#: The event types every zoo member declares it supports (get-info of wat/_base.wat).
SUPPORTED = {t.EventType.TRANSACTION, t.EventType.OPERATION, t.EventType.CUSTOM}
#: Every fixture event the conformance workload draws from, by id (the first of each id wins).
FIXTURES: dict[str, t.Event] = {}
for _file in ("ttp_transactions.jsonl", "token_transfers.jsonl", "non_transaction.jsonl"):
    for _id, _event in _fixture(_file).items():
        FIXTURES.setdefault(_id, _event)
WORKLOAD = [CUSTOM, *(e for e in FIXTURES.values() if e.event_type in SUPPORTED)]
UNSUPPORTED = [TRADE, *(e for e in FIXTURES.values() if e.event_type not in SUPPORTED)]
#: A supported event carrying one stellar-operation (the fixtures hold one).
OPERATION = next(e for e in WORKLOAD if isinstance(e.data, t.StellarOperation))


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
        self, name: str, *, kv_backend: MemoryBackend | None = None, **overrides: Any
    ) -> Iterator[tuple[ProcessorInstance, GrantedCapabilities]]:
        """A fresh instance of ``name`` (not initialized) as ``open_processor`` would make it.

        ``kv_backend``: the store its key-value capability uses (shared between instances;
        default: a fresh one per instance, as the policy's memory backend gives).
        """
        policy = self.policy(name, overrides)
        limits = limits_from_policy(policy)
        host = self.fuel_host if limits.max_fuel is not None else self.host
        report = self.report(name)
        granted = capabilities_from_policy(policy, name, frozenset(report.flowctl_imports))
        if kv_backend is not None:
            granted.others = [
                KeyValueCapability.from_policy(
                    policy.capabilities.key_value, component_id=name, backend=kv_backend
                )
                if isinstance(cap, KeyValueCapability)
                else cap
                for cap in granted.others
            ]
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
            text.replace('  LIFE-006: "before initialize gave ok("', '  LIFE-999: "x"', 1),
            r"unknown check ids \['LIFE-999'\]",
        ),
        (
            text.replace('  OUT-002: "occurs more than once"', '  OUT-002: ""', 1),
            r"need a message fragment",
        ),
        (
            text.replace(
                "    fails:  # check: a fragment of the message it must fail with\n"
                '      OUT-002: "occurs more than once"',
                "    fails: [OUT-002]",
                1,
            ),
            "map each check to a fragment of the message",
        ),
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
            outputs = instance.process_batch([CUSTOM, TRADE, *TRANSACTIONS])
            assert [o.id for o in outputs] == [CUSTOM.id, *(e.id for e in TRANSACTIONS)]


def test_host_refuses_before_initialize_but_the_guest_would_not(lab: Lab) -> None:
    with lab.running("accepts-process-before-initialize") as (instance, _):
        with pytest.raises(errors.LifecycleError, match="call initialize"):
            instance.process_event(CUSTOM)
        assert instance.measurements == []  # the guest was not entered
    with lab.running("accepts-process-before-initialize") as (instance, _):
        assert instance.call_unchecked("process-event", CUSTOM) == t.Ok([])  # the guest would
        assert instance.call_unchecked("process-batch", [CUSTOM, *TRANSACTIONS]) == t.Ok([])
        assert instance.measurements[-1].function == "process-batch"
        instance.initialize("{}")  # after initialize: the baseline's derived events
        assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]
    with lab.running(BASELINE) as (instance, _):  # the baseline refuses, typed
        for function, arg in (("process-event", CUSTOM), ("process-batch", [CUSTOM])):
            got = instance.call_unchecked(function, arg)
            assert isinstance(got, t.Err) and got.error.case == "configuration-error", got


@pytest.mark.parametrize(
    ("name", "capability", "case"),
    [
        ("http-denial-traps", "HttpClientCapability", "forbidden"),
        ("sql-denial-traps", "DatabaseCapability", "permission-denied"),
        ("kv-denial-traps", "KeyValueCapability", "permission-denied"),
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


# ------------------------------------------------------------------------------------------
# the baseline's answers, and members that keep them


def _answer(call: Any) -> Any:
    """What one call gave, comparable: the outputs, ("err", case) or "trap"."""
    try:
        return call()
    except errors.ProcessorErrorResult as exc:
        return ("err", exc.error.case)
    except errors.GuestTrap:
        return "trap"


def _answers(instance: ProcessorInstance, events: list[t.Event]) -> list[Any]:
    return [_answer(lambda e=e: instance.process_event(e)) for e in events]


def test_baseline_emits_one_derived_event_per_supported_well_formed_event(lab: Lab) -> None:
    with lab.initialized(BASELINE) as instance:
        for event in WORKLOAD:
            (out,) = instance.process_event(event)
            assert out == t.Event(
                event.id, event.timestamp, "flowctl-zoo", t.EventType.CUSTOM, t.Generic("{}"), []
            )
        for event in UNSUPPORTED:  # skipped, not refused
            assert instance.process_event(event) == []
        malformed = MALFORMED["malformed-01-not-json"]
        with pytest.raises(errors.ProcessorErrorResult, match="processing-failed"):
            instance.process_event(malformed)
        # a batch is the concatenation of process-event; it fails at a malformed body
        mixed = [*UNSUPPORTED[:2], *WORKLOAD]
        assert [o.id for o in instance.process_batch(mixed)] == [e.id for e in WORKLOAD]
        with pytest.raises(errors.ProcessorErrorResult, match="processing-failed"):
            instance.process_batch([CUSTOM, malformed])
    # 7 of the malformed fixtures are not JSON; the other 24 only a TTP processor refuses
    with lab.initialized(BASELINE) as instance:
        answers = _answers(instance, list(MALFORMED.values()))
    assert answers.count(("err", "processing-failed")) == 7
    assert sum(isinstance(a, list) and len(a) == 1 for a in answers) == 24


#: Members whose answers to the fixture events are the baseline's (their defect lies elsewhere),
#: with the policy overrides they need and the event groups their defect concerns (skipped).
ANSWERS_LIKE_BASELINE: dict[str, dict[str, Any]] = {
    "accepts-process-before-initialize": {},
    "accepts-invalid-config": {},
    "rejects-valid-config": {},
    "initialize-traps-on-invalid-config": {},
    "unhealthy-after-initialize": {},
    "traps-in-validate-config": {},
    "traps-in-shutdown": {},
    "info-empty-fields": {},
    "info-bad-version": {},
    "info-unknown-capability": {},
    "info-bad-schema": {},
    "initialize-accepts-invalid-config": {},
    "partial-initialize-gate": {},
    "init-lock": {},
    "mutating-validate-config": {},
    "traps-on-malformed-payload": {},
    "traps-on-malformed-body": {"skip": {"malformed"}},
    "wrong-error-case": {"skip": {"malformed"}},
    "lenient-malformed-body": {"skip": {"malformed"}},
    "traps-on-unknown-event-type": {"skip": {"unsupported"}},
    "wrong-case-for-unknown-type": {"skip": {"unsupported"}},
    "traps-on-rare-input": {},
    "undeclared-key-value": {},
    "imports-wasi-filesystem": {},
    "imports-wasi-sockets": {},
    "denied-call-only-in-batch": {},
    "declares-unused-capability": {},
    "leaks-secret": {},
    "traps-on-oom": {"overrides": {"max_memory_pages": 1024}},
    "slow-leak": {},
    "traps-in-batch": {"batch": False},
    "imports-foreign-interface": {},
}


def test_members_answering_like_the_baseline_are_members() -> None:
    assert set(ANSWERS_LIKE_BASELINE) <= set(MEMBERS)


@pytest.mark.parametrize("name", sorted(ANSWERS_LIKE_BASELINE))
def test_member_answers_the_fixture_events_like_the_baseline(lab: Lab, name: str) -> None:
    entry = ANSWERS_LIKE_BASELINE[name]
    groups = {
        "workload": WORKLOAD,
        "unsupported": UNSUPPORTED,
        "malformed": list(MALFORMED.values()),
    }
    events = [e for group, es in groups.items() if group not in entry.get("skip", ()) for e in es]
    answers = {}
    for who, overrides in ((BASELINE, {}), (name, entry.get("overrides", {}))):
        with lab.initialized(who, **overrides) as instance:
            singles = _answers(instance, events)
            batch = instance.process_batch(WORKLOAD) if entry.get("batch", True) else None
        answers[who] = (singles, batch)
    assert answers[name] == answers[BASELINE]


# ------------------------------------------------------------------------------------------
# the new members' defects, shown directly


def _operations(event: t.Event) -> int:
    return len(event.data.operations) if isinstance(event.data, t.StellarTransaction) else 0


def test_traps_on_oom_traps_where_memory_cannot_grow_by_300_pages(lab: Lab) -> None:
    big = [e for e in TTP.values() if _operations(e) >= 3]
    small = [e for e in TTP.values() if _operations(e) < 3]
    # the manifest names exactly the fixture transactions that reach the defect
    named = set(re.findall(r"stellar-tx-\d+-\d{3}", ZOO["traps-on-oom"].scenario))
    assert named - {"stellar-tx-51234562-001"} == {e.id for e in big}
    assert len(big) == 16 and len(small) == 36
    with lab.initialized("traps-on-oom") as instance:  # the default 256 pages
        assert [o.id for o in instance.process_batch(small)] == [e.id for e in small]
        for event in big[:3]:
            with pytest.raises(errors.GuestTrap, match="unreachable") as trap:
                instance.process_event(event)
            assert trap.value.recycled  # the host lost the instance, not a typed answer
        with pytest.raises(errors.GuestTrap, match="unreachable"):
            instance.process_batch([*small[:2], big[0]])
    with lab.initialized("traps-on-oom", max_memory_pages=1024) as instance:
        assert [o.id for o in instance.process_batch(big)] == [e.id for e in big]
        assert [o.id for e in big for o in instance.process_event(e)] == [e.id for e in big]
    with lab.initialized(BASELINE) as instance:  # the baseline needs no such memory
        assert [o.id for o in instance.process_batch(big)] == [e.id for e in big]


def test_traps_in_batch_traps_for_two_events_and_answers_them_one_by_one(lab: Lab) -> None:
    events = [CUSTOM, *TRANSACTIONS]
    with lab.initialized("traps-in-batch") as instance:
        singles = [o for e in events for o in instance.process_event(e)]
        assert [o.id for o in singles] == [e.id for e in events]
        assert instance.process_batch([CUSTOM]) == singles[:1]
        assert instance.process_batch([]) == []
        for batch in (events, [CUSTOM, TRANSACTIONS[0]], [TRADE, TRADE]):
            with pytest.raises(errors.GuestTrap, match="unreachable"):
                instance.process_batch(batch)
    with lab.initialized(BASELINE) as instance:
        assert instance.process_batch(events) == singles


def test_lenient_malformed_body_drops_the_event_silently(lab: Lab) -> None:
    malformed = MALFORMED["malformed-01-not-json"]
    with (
        lab.initialized(BASELINE) as instance,
        pytest.raises(errors.ProcessorErrorResult, match="processing-failed"),
    ):
        instance.process_event(malformed)
    with lab.initialized("lenient-malformed-body") as instance:
        assert instance.process_event(malformed) == []
        outputs = instance.process_batch([CUSTOM, malformed, TRANSACTIONS[0]])
        assert [o.id for o in outputs] == [CUSTOM.id, TRANSACTIONS[0].id]
        # not an error anywhere: every malformed fixture is answered ok
        assert all(isinstance(a, list) for a in _answers(instance, list(MALFORMED.values())))


def test_history_dependent_output_changes_with_what_the_instance_saw(lab: Lab) -> None:
    events = [CUSTOM, TRADE, *TRANSACTIONS]
    emitted = [e for e in events if e.event_type in SUPPORTED]
    name = "history-dependent-output"
    with lab.initialized(name) as instance:
        first = instance.process_batch(events)
        second = instance.process_batch(events)
        # not even initialize resets it (the host would refuse a second initialize: call it raw)
        assert instance.call_unchecked("initialize", "{}") == t.Ok(None)
        third = [o for e in events for o in instance.process_event(e)]
    n = len(emitted)
    assert [o.id for o in first] == [f"{e.id}-{i:08d}" for i, e in enumerate(emitted)]
    assert [o.id for o in second] == [f"{e.id}-{i + n:08d}" for i, e in enumerate(emitted)]
    assert [o.id for o in third] == [f"{e.id}-{i + 2 * n:08d}" for i, e in enumerate(emitted)]
    assert len({o.id for o in [*first, *second, *third]}) == 3 * n  # ids stay unique
    # a fresh instance answers what the first pass did: one by one (OUT-003) or again (DET-001)
    with lab.initialized(name) as instance:
        assert [o for e in events for o in instance.process_event(e)] == first
    with lab.initialized(name) as instance:
        assert instance.process_batch(events) == first
    with lab.initialized(BASELINE) as instance:  # the baseline's second pass is its first
        assert instance.process_batch(events) == instance.process_batch(events)


def test_mutating_validate_config_forgets_initialize(lab: Lab) -> None:
    for config in ("{}", '{"unknown": 1}'):
        with lab.initialized(BASELINE) as instance:
            assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]
            _answer(lambda c=config: instance.validate_config(c))
            assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]
        with lab.initialized("mutating-validate-config") as instance:
            assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]
            assert _answer(lambda c=config: instance.validate_config(c)) == (
                None if config == "{}" else ("err", "configuration-error")
            )  # the answer itself is the baseline's
            calls: tuple[Callable[[], object], ...] = (
                lambda: instance.process_event(CUSTOM),
                lambda: instance.process_batch([CUSTOM]),
            )
            for call in calls:
                with pytest.raises(errors.ProcessorErrorResult, match="not initialized"):
                    call()
            assert instance.health_check().status is t.HealthState.HEALTHY


SECRET = "zoo-s3cr3t-api-key-value"


def test_leaks_secret_logs_the_api_key(lab: Lab) -> None:
    with lab.running("leaks-secret") as (instance, granted):
        info = instance.get_info()
        assert info.capabilities_required == ["logging"]
        schema = json.loads(info.configuration_schema or "")
        assert schema["properties"]["api_key"] == {"type": "string", "writeOnly": True}
        config = json.dumps({"api_key": SECRET, "region": "eu"})
        instance.validate_config(config)
        instance.initialize(config)
        assert granted.logging is not None
        (record,) = granted.logging.records
        assert record.level is t.LogLevel.INFO and record.function == "initialize"
        assert record.message == f"initialized with config: {config}"
        assert SECRET in record.message
        assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]  # the baseline's
    with lab.running("leaks-secret") as (instance, granted):  # a refused config is not logged
        assert _answer(lambda: instance.initialize('{"api_key": 7}')) == (
            "err",
            "configuration-error",
        )
        assert granted.logging is not None and granted.logging.records == []


def test_leaks_secret_validates_exactly_what_its_schema_allows(lab: Lab) -> None:
    """validate-config and initialize agree with the schema on every config, both ways."""
    import jsonschema
    from hypothesis import strategies as st
    from hypothesis_jsonschema import from_schema

    with lab.running("leaks-secret") as (instance, _):
        schema = json.loads(instance.get_info().configuration_schema or "")
    validator = jsonschema.Draft202012Validator(schema)

    def not_json(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON (RFC 8259)")

    def allowed(text: str) -> bool:
        try:
            value = json.loads(text, parse_constant=not_json)
        except ValueError:
            return False
        accepted: bool = validator.is_valid(value)
        return accepted

    valid = draw(from_schema(schema), 40)  # what LIFE-002 draws from
    others: list[Any] = [None, True, 12345, -1.5, "a string", [], [1], {}, {"x": {}}]
    mutated = [{**v, "api_key": other} for v in valid[:8] for other in others]  # LIFE-003's
    finite = st.floats(allow_nan=False, allow_infinity=False)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | finite | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
    configs = [
        *(json.dumps(v) for v in [*valid, *mutated, *others, *draw(json_values, 40)]),
        *("{}", ' {"api_key" : "x" } ', '{"nested": {"api_key": 1}}', '{"api_keys": 1}'),
        *('{"API_KEY": 1}', '{"api\\u005fkey": "x"}', '{"api\\u005Fkey": 1}', '{"api_key": null}'),
        *('{"api_key": ["x"]}', '{"api_key": 1, "api_key": "x"}', '{"api_key": "x", "api_key": 1}'),
        *('{"api_key": "x"} x', '{"api\\u0000key": 1}', '"api_key"', "not json", "", "{"),
        *('{"a": Infinity}', '{"a": NaN}', '{"a": 1e400}', '{"a": [1, 2,]}', '{"a": 01}'),
    ]
    expected = [allowed(c) for c in configs]
    assert True in expected and False in expected
    with lab.running("leaks-secret") as (instance, _):
        for config, ok in zip(configs, expected, strict=True):
            want = t.Ok(None) if ok else ("err", "configuration-error")
            for function in ("validate-config", "initialize"):
                got = instance.call_unchecked(function, config)
                got = got if isinstance(got, t.Ok) else ("err", got.error.case)
                assert got == want, (function, config)


def test_slow_leak_needs_memory_in_proportion_to_the_events(lab: Lab) -> None:
    with lab.initialized("slow-leak", max_memory_pages=16) as instance:
        for _ in range(10):
            assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]
    with lab.initialized(BASELINE, max_memory_pages=16) as instance:
        for _ in range(2000):
            instance.process_event(CUSTOM)
    with lab.initialized("slow-leak", max_memory_pages=16) as instance:
        answers = [_answer(lambda: instance.process_event(CUSTOM)) for _ in range(2000)]
    # one page per 16 events: 1 page + 15 leaked pages fill 16; the 241st event finds none
    assert all(a == [answers[0][0]] for a in answers[:240])
    assert answers[240:] == [("err", "resource-exhausted")] * 1760
    with lab.initialized("slow-leak", max_memory_pages=16) as instance:  # batches leak alike
        outputs = instance.process_batch([CUSTOM] * 200)
        assert len(outputs) == 200
        with pytest.raises(errors.ProcessorErrorResult, match="resource-exhausted"):
            instance.process_batch([CUSTOM] * 100)
    with lab.initialized("slow-leak") as instance:  # the default 256 pages: the suite's runs fit
        assert len(instance.process_batch([CUSTOM] * 3000)) == 3000


def test_initialize_accepts_what_validate_config_refuses(lab: Lab) -> None:
    invalid = '{"unknown": 1}'
    for name in (BASELINE, "initialize-accepts-invalid-config"):
        with lab.running(name) as (instance, _):
            with pytest.raises(errors.ProcessorErrorResult, match="configuration-error"):
                instance.validate_config(invalid)
            for config in ("not json", "[]", "", "{"):  # not a JSON object: refused by both
                got = instance.call_unchecked("initialize", config)
                assert isinstance(got, t.Err) and got.error.case == "configuration-error"
            got = instance.call_unchecked("initialize", invalid)
            if name == BASELINE:
                assert isinstance(got, t.Err) and got.error.case == "configuration-error"
            else:
                assert got == t.Ok(None)
                instance.initialize(invalid)  # and it works with a config it should refuse
                assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]


def test_denied_call_only_in_batch_traps_in_batches_only(lab: Lab) -> None:
    name = "denied-call-only-in-batch"
    with lab.running(name) as (instance, granted):
        instance.initialize("{}")
        assert [o.id for o in instance.process_batch([CUSTOM, TRADE])] == [CUSTOM.id]
        (kv,) = granted.others
        assert isinstance(kv, KeyValueCapability)
        assert kv.get("last-batch") == "zoo-batch-marker" and kv.denials == []
        instance.shutdown()  # deletes the key again
        assert kv.get("last-batch") is None
    with lab.running(name, capabilities={"key_value": {"max_value_bytes": 1}}) as (
        instance,
        granted,
    ):
        instance.initialize("{}")
        (kv,) = granted.others
        assert isinstance(kv, KeyValueCapability)
        assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]  # no call, no trap
        assert kv.denials == []
        with pytest.raises(errors.GuestTrap, match="unreachable") as trap:
            instance.process_batch([CUSTOM])
        assert trap.value.recycled
        assert [(d.function, d.key) for d in kv.denials] == [("set", "last-batch")]


def test_init_lock_refuses_a_fresh_instance_on_the_same_store(lab: Lab) -> None:
    name = "init-lock"
    store = MemoryBackend()
    with lab.running(name, kv_backend=store) as (first, _):
        first.initialize("{}")
        assert [o.id for o in first.process_event(CUSTOM)] == [CUSTOM.id]
    # discarded without shutdown, as after a trap: the lock stays in the store
    for _ in range(2):
        with lab.running(name, kv_backend=store) as (second, _):
            with pytest.raises(errors.ProcessorErrorResult, match="init-lock is held") as refused:
                second.initialize("{}")
            assert refused.value.error.case == "configuration-error"
    # released by shutdown: the next instance on that store initializes
    store = MemoryBackend()
    for _ in range(3):
        with lab.running(name, kv_backend=store) as (instance, _):
            instance.initialize("{}")
            instance.shutdown()
    with lab.running(name, kv_backend=store) as (instance, _):
        instance.initialize("{}")
    # each instance on a store of its own (the policy's memory backend): always fine
    for _ in range(2):
        with lab.initialized(name) as instance:
            assert [o.id for o in instance.process_event(CUSTOM)] == [CUSTOM.id]


def _with_operation_type(event: t.Event, index: int, kind: t.OperationType) -> t.Event:
    assert isinstance(event.data, t.StellarTransaction)
    operations = list(event.data.operations)
    operations[index] = dataclasses.replace(operations[index], operation_type=kind)
    data = dataclasses.replace(event.data, operations=operations)
    return dataclasses.replace(event, data=data)


def test_traps_on_rare_input_traps_only_on_an_operation_type_no_fixture_has(lab: Lab) -> None:
    rare = t.OperationType.INFLATION
    # the WAT tests discriminant 11: the case's index in the WIT's operation-type
    assert list(t.OperationType).index(rare) == 11
    seen = set()
    for path in sorted((REPO / "fixtures" / "events").glob("*.jsonl")):
        for event in _fixture(path.name).values():
            if isinstance(event.data, t.StellarOperation):
                seen.add(event.data.operation_type)
            elif isinstance(event.data, t.StellarTransaction):
                seen.update(op.operation_type for op in event.data.operations)
    assert rare not in seen and len(seen) > 5
    big = next(e for e in TTP.values() if _operations(e) >= 3)
    assert isinstance(OPERATION.data, t.StellarOperation)
    rare_operation = dataclasses.replace(OPERATION.data, operation_type=rare)
    operation = dataclasses.replace(OPERATION, data=rare_operation)
    with lab.initialized("traps-on-rare-input") as instance:
        for event in (
            _with_operation_type(TRANSACTIONS[0], 0, rare),
            _with_operation_type(big, 2, rare),  # any operation, not only the first
            operation,
            dataclasses.replace(operation, data=dataclasses.replace(rare_operation, body="{")),
        ):
            with pytest.raises(errors.GuestTrap, match="unreachable"):
                instance.process_event(event)
        # other operation types the fixtures lack are fine; unsupported types are skipped
        other = _with_operation_type(TRANSACTIONS[0], 0, t.OperationType.CLAWBACK)
        assert [o.id for o in instance.process_event(other)] == [other.id]
        skipped = dataclasses.replace(operation, event_type=t.EventType.LEDGER)
        assert instance.process_event(skipped) == []
    with lab.initialized(BASELINE) as instance:
        assert [o.id for o in instance.process_event(operation)] == [operation.id]


def test_partial_initialize_gate_refuses_only_transactions(lab: Lab) -> None:
    transaction = TRANSACTIONS[0]
    with lab.running("partial-initialize-gate") as (instance, _):

        def refused(function: str, arg: Any) -> bool:
            got = instance.call_unchecked(function, arg)
            if isinstance(got, t.Err):
                assert got.error.case == "configuration-error"
                assert "not initialized" in got.error.value
                return True
            assert got == t.Ok([])
            return False

        assert refused("process-event", transaction)
        assert refused("process-batch", [CUSTOM, transaction])
        assert not refused("process-event", CUSTOM)
        assert not refused("process-event", OPERATION)
        assert not refused("process-batch", [CUSTOM, OPERATION, TRADE])
        instance.initialize("{}")
        outputs = instance.process_batch([CUSTOM, OPERATION, transaction])
        assert [o.id for o in outputs] == [CUSTOM.id, OPERATION.id, transaction.id]
    with lab.running(BASELINE) as (instance, _):
        for event in (CUSTOM, OPERATION, transaction):
            assert isinstance(instance.call_unchecked("process-event", event), t.Err)


def test_oversized_output_emits_two_mebibytes_per_output(lab: Lab) -> None:
    events = [CUSTOM, TRADE, *TRANSACTIONS]
    with lab.initialized(BASELINE) as instance:
        expected = instance.process_batch(events)
    with lab.initialized("oversized-output") as instance:
        for outputs in (
            instance.process_batch(events),
            [o for e in events for o in instance.process_event(e)],
        ):
            assert len(outputs) == len(expected) == 4  # as many outputs as the baseline
            for out, base in zip(outputs, expected, strict=True):
                assert isinstance(out.data, t.Generic)
                assert len(out.data.value.encode()) == 2 * 1024 * 1024
                assert json.loads(out.data.value) == {"pad": "x" * (2 * 1024 * 1024 - 10)}
                assert dataclasses.replace(out, data=base.data) == base  # only the data differs


def test_never_emits_answers_ok_with_nothing(lab: Lab) -> None:
    with lab.running("never-emits") as (instance, _):
        assert instance.get_info().output_event_types == [t.EventType.CUSTOM]  # declared
        instance.initialize("{}")
        assert _answers(instance, WORKLOAD) == [[]] * len(WORKLOAD)
        assert instance.process_batch(WORKLOAD) == []
        # errors and skips stay the baseline's: only the outputs are missing
        with pytest.raises(errors.ProcessorErrorResult, match="processing-failed"):
            instance.process_event(MALFORMED["malformed-01-not-json"])
        assert _answers(instance, UNSUPPORTED) == [[]] * len(UNSUPPORTED)
