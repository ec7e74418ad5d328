"""logging, metrics and config capabilities: their documented rules, as plain Python calls.

(Through a real guest they are exercised by test_processor.py and the TTP sample tests.)  Also the
error boundary every capability shares, capabilities.base.map_exceptions.
"""

from __future__ import annotations

import logging

import pytest

from reference_host.capabilities.base import HostContext, map_exceptions
from reference_host.capabilities.config import ConfigCapability
from reference_host.capabilities.logging import LoggingCapability
from reference_host.capabilities.metrics import MetricsCapability
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.types import ConfigError, Err, LogLevel, MetricTag

CFG = ConfigCapability.from_json_text(
    '{"s": "x", "i": 3, "big": 9223372036854775808, "f": 1.5, "f2": 2.0, "b": true, '
    '"n": null, "o": {"a": [1, 2]}}'
)


@pytest.mark.parametrize(
    ("getter", "key", "expected"),
    [
        ("get_string", "s", "x"),
        ("get_string", "i", Err(ConfigError("invalid-type", "i is a integer, not a string"))),
        ("get_int", "i", 3),
        ("get_int", "f", Err(ConfigError("invalid-type", "f is a number, not an integer"))),
        ("get_int", "f2", Err(ConfigError("invalid-type", "f2 is a number, not an integer"))),
        ("get_int", "b", Err(ConfigError("invalid-type", "b is a boolean, not an integer"))),
        (
            "get_int",
            "big",
            Err(ConfigError("invalid-type", "big = 9223372036854775808 is outside the s64 range")),
        ),
        ("get_float", "i", 3.0),
        ("get_float", "f", 1.5),
        ("get_float", "s", Err(ConfigError("invalid-type", "s is a string, not a number"))),
        ("get_bool", "b", True),
        ("get_bool", "i", Err(ConfigError("invalid-type", "i is a integer, not a boolean"))),
        ("get_json", "o", '{"a":[1,2]}'),
        ("get_json", "n", "null"),
        ("get_string", "n", Err(ConfigError("invalid-type", "n is a null, not a string"))),
        ("get_int", "missing", Err(ConfigError("key-not-found", "missing"))),
    ],
)
def test_config_rules(getter: str, key: str, expected: object) -> None:
    assert getattr(CFG, getter)(key) == expected


def test_config_from_bad_text_is_empty() -> None:
    assert ConfigCapability.from_json_text("[1]").values == {}
    assert ConfigCapability.from_json_text("{").values == {}


def test_logging_level_filter_and_flood_limit(caplog: pytest.LogCaptureFixture) -> None:
    budget = CallBudget(ResourceLimits())
    cap = LoggingCapability("c1", max_records_per_call=3)
    cap._context = HostContext("c1", budget)
    budget.deadline = 1.0
    with caplog.at_level(logging.DEBUG, logger="flowctl.guest.c1"):
        cap._emit(LogLevel.INFO, "a\nfake record", [("k", "v"), ("level", "x")])
        cap._set_level(LogLevel.WARN)
        cap._emit(LogLevel.INFO, "filtered", [])
        for i in range(5):
            cap._emit(LogLevel.ERROR, f"e{i}", [])
    assert [r.message for r in cap.records] == ["a\\u000afake record", "e0", "e1"]
    assert cap.records[0].fields == (("k", "v"), ("field_1", "x"))
    assert (cap.dropped_level, cap.dropped_flood) == (1, 3)
    assert caplog.records[0].component_id == "c1"  # type: ignore[attr-defined]
    budget.deadline = 2.0  # a new call: the flood counter resets
    cap._emit(LogLevel.ERROR, "next call", [])
    assert cap.records[-1].message == "next call"


def test_metrics_registry_and_validation() -> None:
    from prometheus_client import generate_latest

    m = MetricsCapability("c1", max_series=3)
    m.record("counter", "events_processed", 2.0, [MetricTag("status", "ok")])
    m.record("counter", "events_processed", 1.0, [MetricTag("status", "ok")])
    m.record("counter", "events_processed", -1.0, [])
    m.record("gauge", "bad name!", 1.0, [])
    m.record("histogram", "latency_ms", 3.0, [])
    m.record("timer", "latency_ms", 7.0, [])
    m.record("gauge", "g", float("nan"), [])
    m.record("gauge", "g1", 1.0, [])
    m.record("gauge", "g2", 1.0, [])  # fourth series: over the cap
    assert m.total("events_processed") == 3.0
    assert dict(m.dropped) == {
        "negative-counter": 1,
        "invalid-name": 1,
        "non-finite": 1,
        "cardinality": 1,
    }
    text = generate_latest(m.registry).decode()
    assert 'events_processed_total{component="c1",status="ok"} 3.0' in text
    assert 'latency_ms_count{component="c1"} 2.0' in text
    assert 'latency_ms_bucket{component="c1",le="5"} 1.0' in text


# ------------------------------------------------------------------ the shared error boundary


def _answer(raise_: BaseException | None) -> str | Err[str]:
    with map_exceptions(lambda exc: f"mapped {type(exc).__name__}: {exc}") as boundary:
        if raise_ is not None:
            raise raise_
        return "ok"
    return boundary.result()


def test_the_boundary_returns_what_the_block_returns() -> None:
    assert _answer(None) == "ok"


def test_the_boundary_maps_an_exception_to_the_error_the_caller_returns() -> None:
    assert _answer(TimeoutError("slow")) == Err("mapped TimeoutError: slow")
    assert _answer(StopIteration()) == Err("mapped StopIteration: ")


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)])
def test_the_boundary_lets_non_exceptions_through(exc: BaseException) -> None:
    with pytest.raises(type(exc)):
        _answer(exc)
