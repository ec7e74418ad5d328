"""The broken-component zoo (sample_components/zoo): it builds, loads, and its violations are real.

Every member is built, loaded by the reference host's engine and inspected.  Then, for each check
id a member's manifest entry names in ``fails``, a *probe* -- a small, check-specific test run
with the reference host (or, for LIFE-006, stock wasmtime-py) -- must find the violation in the
member **and** find nothing in the zoo's control ``baseline``: the probe discriminates, so each of
these tests fails if the member stops violating the check.  Finally the cheap (static and
lifecycle) probes must find nothing in a member beyond what it declares (``fails`` and
``may_also_fail``): each member breaks what it names and little else.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from wasmtime import Config, Engine, Store
from wasmtime.component import Component, Linker, Record, Variant

from conformance.checks import BY_ID, Category
from reference_host import errors
from reference_host import interfaces as names
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
MALFORMED = _fixture("ttp_malformed.jsonl")
NOT_JSON_BODIES = [MALFORMED["malformed-01-not-json"], MALFORMED["malformed-02-truncated-json"]]
OTHER_TYPES = list(_fixture("non_transaction.jsonl").values())
CUSTOM = t.Event(
    "zoo-custom-1", 1_717_000_000, "tests", t.EventType.CUSTOM, t.Generic('{"a": [1, 2]}')
)
NOT_JSON_PAYLOAD = t.Event(
    "zoo-custom-2", 1_717_000_001, "tests", t.EventType.CUSTOM, t.Generic("not json")
)
TRADE = t.Event("zoo-trade-1", 1_717_000_002, "tests", t.EventType.TRADE, t.Generic("{}"))
WELL_FORMED = [*TRANSACTIONS, CUSTOM]

VALID_CONFIGS = ["{}", " {\n} "]
INVALID_CONFIGS = ["[]", "not json", '{"unknown": 1}', "{"]

#: The grants a probe gives for each flowctl capability a component imports (deny-by-default
#: rules: only api.example.com, only table events, only namespace zoo, no server needed).
GRANTS: dict[str, dict[str, Any]] = {
    names.LOGGING: {"logging": True},
    names.METRICS: {"metrics": True},
    names.CONFIG: {"config": True},
    names.HTTP_CLIENT: {"http": {"enabled": True, "allowed_domains": ["api.example.com"]}},
    names.DATABASE: {
        "database": {
            "enabled": True,
            "connection_string": "postgresql://zoo@127.0.0.1:9/zoo",
            "allowed_tables": ["events"],
        }
    },
    names.KEY_VALUE: {"key_value": {"enabled": True, "backend": "memory", "namespace": "zoo"}},
}

#: Fuel per event above which a component is far below any throughput threshold (the baseline
#: uses well under 1 % of it per fixture transaction).
FUEL_PER_EVENT = 5_000_000
#: Outputs per input event the output-size probe tolerates.
MAX_OUTPUTS_PER_EVENT = 1000

SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?"
)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------------
# the lab: built components, loaded once, opened under a policy


class Unassessable(Exception):
    """The host refuses the component (WIT drift), so a runtime probe cannot run on it."""


class Lab:
    """Built zoo components and ways to run them with the reference host."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.host = HostEngine()
        self.fuel_host = HostEngine(EngineConfig(fuel=True))
        self._loaded: dict[tuple[int, str], LoadedComponent] = {}
        self._reports: dict[str, ComponentReport] = {}
        self._info: dict[str, t.ProcessorInfo] = {}
        self._findings: dict[tuple[str, str], str | None] = {}
        self.stock = Engine(_fuel_config())

    def finding(self, check: str, name: str) -> str | None:
        """What the probe for ``check`` finds in ``name`` (memoized: some probes take seconds)."""
        key = (check, name)
        if key not in self._findings:
            self._findings[key] = PROBES[check](self, name)
        return self._findings[key]

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
        """Grants for what the component imports, WASI if it imports WASI, the member's own
        scenario policy, then ``overrides``."""
        report = self.report(name)
        # unknown_imports: trap only for imports no host provides; in trap mode the reference
        # host also makes granted WASI imports trap (define_unknown_imports_as_traps shadows
        # add_wasip2), so WASI members are opened in refuse mode
        mode = "trap" if report.other_imports else "refuse"
        data: dict[str, Any] = {"unknown_imports": mode, "capabilities": {}}
        for interface in report.flowctl_imports:
            data = _merge(data, {"capabilities": GRANTS[interface]})
        if report.wasi_imports:
            data = _merge(data, {"capabilities": {"wasi": True}})
        data = _merge(data, self.member(name).policy or {})
        return policy_from_mapping(_merge(data, overrides or {}), source=f"zoo member {name}")

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
        except errors.ContractError as exc:
            for cap in granted.all():
                cap.close()
            raise Unassessable(str(exc)) from exc
        try:
            yield instance, granted
        finally:
            instance.close()

    @contextmanager
    def initialized(self, name: str, **overrides: Any) -> Iterator[ProcessorInstance]:
        with self.running(name, **overrides) as (instance, _):
            instance.initialize("{}")
            yield instance

    def info(self, name: str) -> t.ProcessorInfo:
        if name not in self._info:
            with self.running(name) as (instance, _):
                self._info[name] = instance.get_info()
        return self._info[name]


def _fuel_config() -> Config:
    config = Config()
    config.consume_fuel = True  # stock calls are bounded: a wrong member cannot hang the tests
    return config


# ------------------------------------------------------------------------------------------
# probes: check id -> (lab, component) -> a description of the violation, or None


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", value) | ("err", case) | ("trap", GuestTrap) | ("too-much", OutputLimitError)."""
    try:
        return "ok", call()
    except errors.ProcessorErrorResult as exc:
        return "err", exc.error.case
    except errors.GuestTrap as exc:
        return "trap", exc
    except errors.OutputLimitError as exc:
        return "too-much", exc


def _schema(info: t.ProcessorInfo) -> dict[str, Any] | None:
    if info.configuration_schema is None:
        return None
    try:
        schema = json.loads(info.configuration_schema)
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None


def _valid_under(schema: dict[str, Any] | None, config: str) -> bool | None:
    """Whether ``config`` is valid under ``schema`` (None: no usable schema to tell)."""
    try:
        value = json.loads(config)
    except ValueError:
        return False
    if schema is None:
        return None
    return bool(jsonschema.Draft202012Validator(schema).is_valid(value))


def _known_capabilities(declared: list[str]) -> tuple[list[str], list[str]]:
    known, unknown = [], []
    for capability in declared:
        try:
            Policy.default_for([capability])
        except errors.PolicyError:
            unknown.append(capability)
        else:
            known.append(capability)
    return known, unknown


def probe_info(lab: Lab, name: str) -> str | None:  # LIFE-001
    info = lab.info(name)
    problems = [
        f"{field} is empty"
        for field in ("name", "version", "author", "description")
        if not getattr(info, field).strip()
    ]
    if info.version.strip() and not SEMVER.fullmatch(info.version):
        problems.append(f"version {info.version!r} is not semver")
    unknown = _known_capabilities(info.capabilities_required)[1]
    if unknown:
        problems.append(f"unknown capabilities {unknown}")
    if not info.supported_event_types:
        problems.append("supported-event-types is empty")
    if info.configuration_schema is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(json.loads(info.configuration_schema))
        except (ValueError, jsonschema.SchemaError) as exc:
            problems.append(f"configuration-schema is not a JSON Schema: {exc}")
    return "; ".join(problems) or None


def probe_accepts_valid(lab: Lab, name: str) -> str | None:  # LIFE-002
    schema = _schema(lab.info(name))
    with lab.running(name) as (instance, _):
        for config in VALID_CONFIGS:
            if _valid_under(schema, config) is False:
                continue
            kind, value = _outcome(partial(instance.validate_config, config))
            if kind != "ok":
                return f"validate-config({config!r}) gave {kind} {value}"
    return None


def probe_rejects_invalid(lab: Lab, name: str) -> str | None:  # LIFE-003
    schema = _schema(lab.info(name))
    with lab.running(name) as (instance, _):
        for config in INVALID_CONFIGS:
            if _valid_under(schema, config) is not False:
                continue
            kind, value = _outcome(partial(instance.validate_config, config))
            if (kind, value) != ("err", "configuration-error"):
                return f"validate-config({config!r}) gave {kind} {value}"
    return None


def probe_initialize(lab: Lab, name: str) -> str | None:  # LIFE-004
    with lab.running(name) as (instance, _):
        kind, value = _outcome(lambda: instance.initialize(VALID_CONFIGS[0]))
        if kind != "ok":
            return f"initialize({VALID_CONFIGS[0]!r}) gave {kind} {value}"
    with lab.running(name) as (instance, _):
        kind, value = _outcome(lambda: instance.initialize(INVALID_CONFIGS[0]))
        if (kind, value) != ("err", "configuration-error"):
            return f"initialize({INVALID_CONFIGS[0]!r}) gave {kind} {value}"
    return None


def probe_health(lab: Lab, name: str) -> str | None:  # LIFE-005
    with lab.initialized(name) as instance:
        kind, value = _outcome(instance.health_check)
        if kind != "ok" or not isinstance(value.status, t.HealthState):
            return f"health-check after initialize gave {kind} {value}"
    return None


def _stock_event() -> Record:
    event = Record()
    for key, value in {
        "id": "zoo-raw-1",
        "timestamp": 1,
        "source-component": "tests",
        "event-type": "custom",
        "data": Variant("generic", "{}"),
        "metadata": [],
    }.items():
        setattr(event, key, value)
    return event


def probe_process_before_initialize(lab: Lab, name: str) -> str | None:  # LIFE-006
    # The reference host refuses these calls itself (LifecycleError) without entering the guest,
    # so ask the guest directly, with stock wasmtime-py (fuel-bounded; unknown imports trap).
    component = Component.from_file(lab.stock, str(lab.paths[name]))
    linker = Linker(lab.stock)
    linker.define_unknown_imports_as_traps(component)
    store = Store(lab.stock)
    store.set_fuel(100_000_000)
    instance = linker.instantiate(store, component)
    iface = instance.get_export_index(store, names.PROCESSOR)
    for function, args in (
        ("process-event", (_stock_event(),)),
        ("process-batch", ([_stock_event()],)),
    ):
        index = instance.get_export_index(store, function, iface)
        assert index is not None
        func = instance.get_func(store, index)
        assert func is not None
        result = func(store, *args)
        if isinstance(result, list):  # ok(list<event>); err is a Variant
            return f"{function} before initialize returned ok({len(result)} events)"
    return None


def probe_no_trap_in_validate_or_shutdown(lab: Lab, name: str) -> str | None:  # LIFE-007
    with lab.running(name) as (instance, _):
        for config in (*VALID_CONFIGS, *INVALID_CONFIGS):
            kind, value = _outcome(partial(instance.validate_config, config))
            if kind == "trap":
                return f"validate-config({config!r}) trapped: {value.trap_message.splitlines()[0]}"
        instance.initialize("{}")
        kind, value = _outcome(instance.shutdown)
        if kind == "trap":
            return f"shutdown trapped: {value.trap_message.splitlines()[0]}"
    return None


_TIME_LIMITS = (errors.CallTimeoutError, errors.OutOfFuelError)


def probe_no_trap(lab: Lab, name: str) -> str | None:  # ERR-001
    inputs = [*WELL_FORMED, *NOT_JSON_BODIES, NOT_JSON_PAYLOAD, TRADE, *OTHER_TYPES]
    with lab.initialized(name, execution_timeout=1.0) as instance:
        for event in inputs:
            kind, value = _outcome(partial(instance.process_event, event))
            if kind == "trap" and not isinstance(value, _TIME_LIMITS):
                return f"process-event({event.id}) trapped: {value.trap_message.splitlines()[0]}"
    return None


def probe_malformed_body_case(lab: Lab, name: str) -> str | None:  # ERR-002
    with lab.initialized(name) as instance:
        for event in NOT_JSON_BODIES:
            kind, value = _outcome(partial(instance.process_event, event))
            if kind == "trap" or (
                kind == "err" and value not in ("processing-failed", "invalid-event")
            ):
                return f"a malformed operation body ({event.id}) gave {kind} {value}"
    return None


def probe_unsupported_type(lab: Lab, name: str) -> str | None:  # ERR-003
    supported = set(lab.info(name).supported_event_types)
    events = [e for e in (*OTHER_TYPES, TRADE) if e.event_type not in supported]
    assert events, "every probe event type is supported"
    with lab.initialized(name) as instance:
        for event in events:
            kind, value = _outcome(partial(instance.process_event, event))
            if (kind, value) not in (("ok", []), ("err", "invalid-event")):
                return f"unsupported {event.event_type} event {event.id} gave {kind} {value}"
    return None


def probe_undeclared_imports(lab: Lab, name: str) -> str | None:  # SBX-001
    declared = _known_capabilities(lab.info(name).capabilities_required)[0]
    grants = Policy.default_for(declared)
    undeclared = [i for i in lab.report(name).flowctl_imports if not grants.grants(i)]
    return f"imports {undeclared}, declares {declared}" if undeclared else None


def probe_wasi(lab: Lab, name: str) -> str | None:  # SBX-002
    wasi = lab.report(name).wasi_imports
    return f"imports WASI {list(wasi)}" if wasi else None


def probe_denial_handled(lab: Lab, name: str) -> str | None:  # SBX-003
    with lab.running(name) as (instance, granted):
        instance.initialize("{}")
        kind, value = _outcome(lambda: instance.process_event(TRANSACTIONS[0]))
        denials = [d for cap in granted.others for d in getattr(cap, "denials", [])]
        if kind == "trap" and denials:
            return (
                f"the host denied {denials[0]!r}; the guest then trapped: "
                f"{value.trap_message.splitlines()[0]}"
            )
    return None


def probe_unused_grants(lab: Lab, name: str) -> str | None:  # SBX-005
    declared = _known_capabilities(lab.info(name).capabilities_required)[0]
    grants = Policy.default_for(declared)
    imported = set(lab.report(name).flowctl_imports)
    unused = [i for i in names.CAPABILITIES if grants.grants(i) and i not in imported]
    return f"declares {declared} but never imports {unused}" if unused else None


def _limit_failure(kind: str, value: Any) -> bool:
    return (kind == "trap" and type(value) is not errors.GuestTrap) or (
        kind == "err" and value == "resource-exhausted"
    )


def probe_workload(lab: Lab, name: str) -> str | None:  # LIM-001
    with lab.initialized(name, execution_timeout=0.5, max_memory_pages=256) as instance:
        for event in WELL_FORMED:
            kind, value = _outcome(partial(instance.process_event, event))
            if _limit_failure(kind, value):
                return f"{event.id}: {kind} {type(value).__name__ if kind == 'trap' else value}"
    return None


def probe_timeout(lab: Lab, name: str) -> str | None:  # LIM-002
    with lab.initialized(name, execution_timeout=0.05) as instance:
        for call in (
            lambda: instance.process_event(CUSTOM),
            lambda: instance.process_batch([CUSTOM]),
        ):
            _, value = _outcome(call)
            if isinstance(value, errors.CallTimeoutError):
                return (
                    f"stopped by the 50 ms execution_timeout: {value.trap_message.splitlines()[0]}"
                )
    return None


def probe_memory(lab: Lab, name: str) -> str | None:  # LIM-003
    with lab.initialized(name, max_memory_pages=32) as instance:
        kind, value = _outcome(lambda: instance.process_event(CUSTOM))
        if isinstance(value, errors.MemoryLimitError) or (kind, value) == (
            "err",
            "resource-exhausted",
        ):
            return f"under max_memory_pages=32 process-event gave {kind} {value}"
    return None


def probe_recursion(lab: Lab, name: str) -> str | None:  # LIM-004
    with lab.initialized(name) as instance:
        _, value = _outcome(lambda: instance.process_event(CUSTOM))
        if isinstance(value, errors.StackExhaustedError):
            return f"StackExhaustedError: {value.trap_message.splitlines()[0]}"
    return None


def _outputs(lab: Lab, name: str) -> tuple[t.ProcessorInfo, list[t.Event]]:
    with lab.initialized(name) as instance:
        return lab.info(name), [out for e in WELL_FORMED for out in instance.process_event(e)]


def probe_output_types(lab: Lab, name: str) -> str | None:  # OUT-001
    info, outputs = _outputs(lab, name)
    undeclared = sorted(
        {str(o.event_type) for o in outputs} - {str(x) for x in info.output_event_types}
    )
    return f"emits {undeclared}, declares {info.output_event_types}" if undeclared else None


def probe_output_ids(lab: Lab, name: str) -> str | None:  # OUT-002
    ids = [o.id for o in _outputs(lab, name)[1]]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    return f"duplicate output ids {duplicates}" if duplicates else None


def probe_batch_equals_events(lab: Lab, name: str) -> str | None:  # OUT-003
    with lab.initialized(name) as instance:
        one_by_one = [out for e in WELL_FORMED for out in instance.process_event(e)]
    with lab.initialized(name) as instance:
        batch = instance.process_batch(WELL_FORMED)
    if batch != one_by_one:
        return f"process-batch gave {len(batch)} events, process-event {len(one_by_one)} in all"
    return None


def probe_output_size(lab: Lab, name: str) -> str | None:  # OUT-004
    with lab.initialized(name) as instance:
        kind, value = _outcome(lambda: instance.process_event(CUSTOM))
    if isinstance(value, errors.OutputLimitError):
        return str(value)
    if kind == "ok" and len(value) > MAX_OUTPUTS_PER_EVENT:
        return f"{len(value)} outputs for one input"
    return None


def probe_determinism(lab: Lab, name: str) -> str | None:  # DET-001
    runs = []
    for _ in range(2):
        with lab.initialized(name) as instance:
            runs.append([out for e in WELL_FORMED for out in instance.process_event(e)])
    first, second = runs
    if first != second:
        diff = next((a, b) for a, b in zip(first, second, strict=True) if a != b)
        return f"two fresh instances differ: {diff[0]} vs {diff[1]}"
    return None


def probe_fuel_per_event(lab: Lab, name: str) -> str | None:  # PERF-001
    with lab.initialized(name, max_fuel=10**9) as instance:
        for event in TRANSACTIONS:
            instance.process_event(event)
        fuel = max(m.fuel_used or 0 for m in instance.measurements if m.function == "process-event")
    return f"{fuel:,} fuel for one process-event call" if fuel > FUEL_PER_EVENT else None


def probe_fuel_per_batch_event(lab: Lab, name: str) -> str | None:  # PERF-002
    with lab.initialized(name, max_fuel=10**9) as instance:
        instance.process_batch(TRANSACTIONS)
        fuel = instance.measurements[-1].fuel_used or 0
    per_event = fuel // len(TRANSACTIONS)
    return f"{per_event:,} fuel per event in process-batch" if per_event > FUEL_PER_EVENT else None


def probe_exports(lab: Lab, name: str) -> str | None:  # WIT-001
    report = lab.report(name)
    drift = [d for d in report.drift if d.startswith("export ")]
    wrong = {f: v for f, v in report.functions.items() if v != "ok"}
    return "; ".join(drift) or (str(wrong) if wrong else None)


def probe_imports(lab: Lab, name: str) -> str | None:  # WIT-002
    report = lab.report(name)
    problems = [d for d in report.drift if d.startswith("import ")]
    problems += [f"imports {i.name} ({i.kind})" for i in report.imports if i.kind != "flowctl"]
    return "; ".join(problems) or None


PROBES: dict[str, Callable[[Lab, str], str | None]] = {
    "LIFE-001": probe_info,
    "LIFE-002": probe_accepts_valid,
    "LIFE-003": probe_rejects_invalid,
    "LIFE-004": probe_initialize,
    "LIFE-005": probe_health,
    "LIFE-006": probe_process_before_initialize,
    "LIFE-007": probe_no_trap_in_validate_or_shutdown,
    "ERR-001": probe_no_trap,
    "ERR-002": probe_malformed_body_case,
    "ERR-003": probe_unsupported_type,
    "SBX-001": probe_undeclared_imports,
    "SBX-002": probe_wasi,
    "SBX-003": probe_denial_handled,
    "SBX-005": probe_unused_grants,
    "LIM-001": probe_workload,
    "LIM-002": probe_timeout,
    "LIM-003": probe_memory,
    "LIM-004": probe_recursion,
    "OUT-001": probe_output_types,
    "OUT-002": probe_output_ids,
    "OUT-003": probe_batch_equals_events,
    "OUT-004": probe_output_size,
    "DET-001": probe_determinism,
    "PERF-001": probe_fuel_per_event,
    "PERF-002": probe_fuel_per_batch_event,
    "WIT-001": probe_exports,
    "WIT-002": probe_imports,
}

#: Probes that never run a member's process functions after initialize: cheap and safe on
#: every member, so they also show that a member breaks nothing it does not declare.
CHEAP = ("LIFE-001", "LIFE-002", "LIFE-003", "LIFE-004", "LIFE-005", "LIFE-006", "LIFE-007",
         "SBX-001", "SBX-002", "SBX-005", "WIT-001", "WIT-002")  # fmt: skip

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


def test_every_failed_check_has_a_probe() -> None:
    named = {check for m in ZOO.members for check in m.fails}
    assert named <= set(PROBES), named - set(PROBES)
    assert set(CHEAP) <= set(PROBES)


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


@pytest.mark.parametrize(
    ("name", "check"), [(m.name, check) for m in ZOO.members for check in m.fails]
)
def test_member_violates_its_check_and_the_baseline_does_not(
    lab: Lab, name: str, check: str
) -> None:
    assert lab.finding(check, name), f"{name} does not violate {check} ({BY_ID[check].title})"
    assert lab.finding(check, BASELINE) is None


@pytest.mark.parametrize("name", MEMBERS)
def test_member_breaks_nothing_else_that_is_cheap_to_see(lab: Lab, name: str) -> None:
    member = ZOO[name]
    unexpected = {}
    for check in CHEAP:
        if check in member.fails or check in member.may_also_fail:
            continue
        try:
            finding = lab.finding(check, name)
        except Unassessable:
            assert member.flowctl_wit is not None, f"{name}: the host refused it"
            continue
        if finding:
            unexpected[check] = finding
    assert unexpected == {}


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
    finding = lab.finding("LIFE-006", "accepts-process-before-initialize")
    assert finding == "process-event before initialize returned ok(0 events)"


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
    finding = lab.finding("OUT-004", "output-flood")
    assert finding == "process-event returned 100001 events, more than max_output_events=100000"
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
