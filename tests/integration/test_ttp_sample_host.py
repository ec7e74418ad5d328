"""The TTP sample (18 MB Python guest) through the reference host: outputs equal the committed
expected files, batch equals the concatenation of single calls, capabilities see what the design
document says, limits hold.  Slow: builds the sample once (cached by its inputs digest).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reference_host import errors
from reference_host import types as t
from reference_host.capabilities.config import ConfigCapability
from reference_host.capabilities.logging import LoggingCapability
from reference_host.capabilities.metrics import MetricsCapability
from reference_host.engine import HostEngine
from reference_host.jsonform import event_from_json, event_to_json
from reference_host.limits import ResourceLimits
from reference_host.processor import ProcessorInstance

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures"


@pytest.fixture(scope="module")
def wasm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sample_components.build import build_sample

    return build_sample("ttp_processor").path


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> HostEngine:
    return HostEngine(
        ResourceLimits(max_fuel=1).engine_config(), cache_dir=tmp_path_factory.mktemp("c")
    )


def load_events(name: str) -> list[t.Event]:
    lines = (FIX / "events" / name).read_text().splitlines()
    return [event_from_json(json.loads(line)) for line in lines if line.strip()]


def load_expected(name: str) -> dict[str, Any]:
    lines = (FIX / "expected" / "ttp" / name).read_text().splitlines()
    return {row["input-id"]: row for row in map(json.loads, filter(str.strip, lines))}


class Sample:
    def __init__(self, host: HostEngine, wasm: Path, config: str, **limits: Any) -> None:
        self.log = LoggingCapability("ttp", forward=False)
        self.metrics = MetricsCapability("ttp")
        self.config = ConfigCapability.from_json_text(config)
        self.proc = ProcessorInstance(
            host,
            host.load(wasm),
            limits=ResourceLimits(max_fuel=50_000_000, **limits),
            capabilities=[self.log, self.metrics, self.config],
            component_id="ttp",
        )


@pytest.fixture(scope="module", params=["ttp", "ttp_all"])
def sample(
    request: pytest.FixtureRequest, host: HostEngine, wasm: Path
) -> Iterator[tuple[str, Sample]]:
    config = (FIX / "configs" / f"{request.param}.json").read_text()
    s = Sample(host, wasm, config)
    s.proc.initialize(config)
    yield request.param, s
    s.proc.close()


def test_get_info_is_the_design_documents(host: HostEngine, wasm: Path) -> None:
    s = Sample(host, wasm, "{}")
    info = s.proc.get_info()
    assert (info.name, info.version, info.author) == (
        "Token Transfer Pattern Processor", "1.0.0", "Obsrvr Team"
    )  # fmt: skip
    assert info.supported_event_types == [t.EventType.TRANSACTION]
    assert info.output_event_types == [t.EventType.TOKEN_TRANSFER]
    assert info.capabilities_required == ["logging", "metrics", "config"]
    assert json.loads(info.configuration_schema or "")["required"] == ["network_passphrase"]
    assert s.proc.report.flowctl_imports == (
        "obsrvr:flowctl/logging@1.0.0", "obsrvr:flowctl/metrics@1.0.0", "obsrvr:flowctl/config@1.0.0"
    )  # fmt: skip
    assert s.proc.report.wasi_imports == ()
    s.proc.close()


@pytest.mark.parametrize(
    ("config", "ok"),
    [
        ('{"network_passphrase": "Test SDF Network ; September 2015"}', True),
        ("{}", False),
        ('{"network_passphrase": ""}', False),
        ("not json", False),
        ('{"network_passphrase": "x", "min_amount": "1"}', False),
    ],
)
def test_validate_config(host: HostEngine, wasm: Path, config: str, ok: bool) -> None:
    s = Sample(host, wasm, config)
    try:
        if ok:
            s.proc.validate_config(config)
        else:
            with pytest.raises(errors.ProcessorErrorResult) as exc:
                s.proc.validate_config(config)
            assert exc.value.error.case == "configuration-error"
    finally:
        s.proc.close()


@pytest.mark.parametrize("events", ["ttp_transactions", "ttp_malformed", "non_transaction"])
def test_outputs_equal_the_expected_files(sample: tuple[str, Sample], events: str) -> None:
    cfg, s = sample
    expected = load_expected(f"{events}__{cfg}.jsonl")
    inputs = load_events(f"{events}.jsonl")
    assert set(expected) == {e.id for e in inputs}
    for ev in inputs:
        want = expected[ev.id]
        if "ok" in want:
            got = [event_to_json(o) for o in s.proc.process_event(ev)]
            assert got == want["ok"], ev.id
        else:
            with pytest.raises(errors.ProcessorErrorResult) as exc:
                s.proc.process_event(ev)
            (case,) = want["err"]
            assert exc.value.error.case == case, ev.id
    assert s.proc.recycles == 0  # no well-typed input made it trap


def test_batch_equals_concatenation_of_single_calls(sample: tuple[str, Sample]) -> None:
    _cfg, s = sample
    inputs = load_events("ttp_transactions.jsonl") + load_events("non_transaction.jsonl")
    singles = [o for ev in inputs for o in s.proc.process_event(ev)]
    assert s.proc.process_batch(inputs) == singles


def test_metrics_and_logs_reach_the_host(sample: tuple[str, Sample]) -> None:
    _cfg, s = sample
    s.proc.process_batch(load_events("ttp_transactions.jsonl"))
    names = set(s.metrics.counters) | set(s.metrics.histograms)
    assert {"events_processed", "token_transfers_extracted", "batch_processed"} <= names
    assert s.metrics.total("events_processed") > 0
    assert any("initialized" in r.message for r in s.log.records)


def test_fuel_per_event_is_nearly_constant(sample: tuple[str, Sample]) -> None:
    # A Python guest's interpreter state (allocator, caches) moves fuel by well under 2 % between
    # identical calls; WAT guests are exactly constant (tests/unit/test_processor.py).
    _cfg, s = sample
    ev = load_events("ttp_transactions.jsonl")[0]
    # three warm-up calls first: the first call of a config can do one-time work (a lazily
    # compiled pattern, the allocator's first growth) -- once measured at +2.1 % in CI
    for _ in range(3 + 5):
        s.proc.process_event(ev)
    fuel = [m.fuel_used or 0 for m in s.proc.measurements[-5:]]
    assert min(fuel) > 0
    assert (max(fuel) - min(fuel)) / min(fuel) < 0.02


def test_memory_limit_below_what_the_guest_needs(host: HostEngine, wasm: Path) -> None:
    with pytest.raises(errors.MemoryLimitError, match="max_memory_pages"):
        ProcessorInstance(
            host,
            host.load(wasm),
            limits=ResourceLimits(max_memory_pages=16, max_fuel=1),
            capabilities=[LoggingCapability("x"), MetricsCapability("x"), ConfigCapability()],
        )


def test_ungranted_config_capability_is_refused(host: HostEngine, wasm: Path) -> None:
    with pytest.raises(errors.UngrantedImportError, match=r"capabilities\.config: true"):
        ProcessorInstance(host, host.load(wasm), capabilities=[LoggingCapability("x"), MetricsCapability("x")],
                          limits=ResourceLimits(max_fuel=1))  # fmt: skip


def test_timeout_and_recovery_on_a_real_guest(host: HostEngine, wasm: Path) -> None:
    config = (FIX / "configs" / "ttp.json").read_text()
    s = Sample(host, wasm, config)
    s.proc.initialize(config)
    events = load_events("ttp_transactions.jsonl") * 40
    tiny = ResourceLimits(max_fuel=50_000_000, execution_timeout_s=0.005, batch_size=len(events))
    s.proc.limits = tiny
    s.proc.budget.limits = tiny
    with pytest.raises(errors.CallTimeoutError) as exc:
        s.proc.process_batch(events)
    assert exc.value.recycled
    roomy = ResourceLimits(max_fuel=50_000_000)
    s.proc.limits = s.proc.budget.limits = roomy
    assert s.proc.health_check().status is t.HealthState.HEALTHY  # re-initialized: config readable
    assert s.proc.process_event(events[0])
    s.proc.close()
