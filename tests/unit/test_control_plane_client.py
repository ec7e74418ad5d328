"""reference_host.rpc.control_plane without a network: Go durations, settings, backoff, checks."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from reference_host.errors import FlowctlHostError
from reference_host.rpc import control_plane as cp
from reference_host.rpc.control_plane import (
    Backoff,
    ControlPlaneClient,
    ControlPlaneConfigError,
    ControlPlaneSettings,
    parse_go_duration,
    settings_from_env,
)
from reference_host.rpc.gen.flowctl.v1 import common_pb2
from reference_host.rpc.health_http import format_go_duration

# --- parse_go_duration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("+0", 0.0),
        ("-0", 0.0),
        ("0s", 0.0),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        ("300us", 0.0003),
        ("300µs", 0.0003),  # U+00B5 micro sign
        ("300μs", 0.0003),  # U+03BC Greek mu
        ("1500ns", 1.5e-6),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1h1m1s1ms1us1ns", 3661.001001001),
        ("-1.5s", -1.5),
        ("+2m", 120.0),
        ("1ms5s", 5.001),  # units may come in any order, like Go
        ("0.1s", 0.1),
        ("1.0000000001s", 1.0),  # Go truncates to whole nanoseconds
    ],
)
def test_parse_go_duration(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "invalid duration ''"),
        ("-", "invalid duration '-'"),
        ("10", "missing unit in duration '10'"),
        ("1m30", "missing unit in duration '1m30'"),
        ("s", "invalid duration 's'"),
        (".s", "invalid duration '.s'"),
        ("10x", "unknown unit 'x' in duration '10x'"),
        ("10 s", "unknown unit ' s'"),
        (" 10s", "invalid duration ' 10s'"),
        ("10S", "unknown unit 'S'"),
        ("1d", "unknown unit 'd'"),
        ("1..5s", "missing unit in duration '1..5s'"),  # as Go says
        ("3000000h", "out of range"),
    ],
)
def test_parse_go_duration_errors_name_the_text_and_the_syntax(text, fragment):
    with pytest.raises(ControlPlaneConfigError) as info:
        parse_go_duration(text)
    message = str(info.value)
    assert fragment in message
    if "out of range" not in fragment:
        assert 'expected a Go duration such as "10s", "1m30s"' in message


def test_config_error_is_a_value_error_in_the_host_tree():
    assert issubclass(ControlPlaneConfigError, ValueError)
    assert issubclass(ControlPlaneConfigError, FlowctlHostError)


@pytest.mark.parametrize(
    "seconds",
    [0.0, 1e-9, 1.5e-6, 0.0015, 0.5, 1.0, 62.5, 3600.0, 3661.001, 9900.0, 86400.123456789, -1.5],
)
def test_go_duration_format_parses_back(seconds):
    assert parse_go_duration(format_go_duration(seconds)) == pytest.approx(seconds, abs=1e-9)


# --- settings_from_env ------------------------------------------------------------------------


def test_disabled_unless_enable_flowctl_says_so():
    assert settings_from_env({}) is None
    assert settings_from_env({"FLOWCTL_COMPONENT_ID": "ttp"}) is None
    for value in ("false", "0", "no", "", "enabled", "on"):
        assert settings_from_env({"ENABLE_FLOWCTL": value, "FLOWCTL_COMPONENT_ID": "x"}) is None


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", "YES", " true "])
def test_enable_flowctl_values(value):
    settings = settings_from_env({"ENABLE_FLOWCTL": value, "FLOWCTL_COMPONENT_ID": "ttp"})
    assert settings is not None
    assert settings.component_id == "ttp"


def test_defaults():
    settings = settings_from_env({"ENABLE_FLOWCTL": "true", "FLOWCTL_COMPONENT_ID": "ttp"})
    assert settings == ControlPlaneSettings(component_id="ttp")
    assert settings.endpoint == "localhost:8080"
    assert settings.heartbeat_interval_s == 10.0


def test_what_flowctl_injects():
    env = {
        "ENABLE_FLOWCTL": "true",
        "FLOWCTL_ENDPOINT": "127.0.0.1:43117",
        "FLOWCTL_HEARTBEAT_INTERVAL": "10s",
        "FLOWCTL_SERVICE_ID": "token-transfers",
        "FLOWCTL_COMPONENT_ID": "token-transfers",
        "HEALTH_PORT": "18082",
    }
    settings = settings_from_env(env)
    assert settings is not None
    assert (settings.endpoint, settings.component_id, settings.heartbeat_interval_s) == (
        "127.0.0.1:43117",
        "token-transfers",
        10.0,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FLOWCTL_COMPONENT_ID": "a", "FLOWCTL_SERVICE_ID": "b", "COMPONENT_ID": "c"}, "a"),
        ({"FLOWCTL_SERVICE_ID": "b", "COMPONENT_ID": "c"}, "b"),
        ({"COMPONENT_ID": "c"}, "c"),
        ({"FLOWCTL_COMPONENT_ID": "", "FLOWCTL_SERVICE_ID": "b"}, "b"),  # empty counts as unset
        ({"FLOWCTL_COMPONENT_ID": "  ", "COMPONENT_ID": "c"}, "c"),
    ],
)
def test_component_id_precedence(env, expected):
    settings = settings_from_env({"ENABLE_FLOWCTL": "1", **env})
    assert settings is not None
    assert settings.component_id == expected


@pytest.mark.parametrize("env", [{}, {"FLOWCTL_COMPONENT_ID": ""}, {"COMPONENT_ID": " "}])
def test_enabled_without_a_component_id_is_a_clear_error(env):
    with pytest.raises(ControlPlaneConfigError) as info:
        settings_from_env({"ENABLE_FLOWCTL": "true", **env})
    message = str(info.value)
    assert "FLOWCTL_COMPONENT_ID" in message
    assert "ENABLE_FLOWCTL" in message  # the remedy: set the id, or disable


@pytest.mark.parametrize(
    ("interval", "seconds"), [("250ms", 0.25), ("1m", 60.0), ("1m30s", 90.0), ("", 10.0)]
)
def test_heartbeat_interval_is_a_go_duration(interval, seconds):
    env = {"ENABLE_FLOWCTL": "yes", "COMPONENT_ID": "x", "FLOWCTL_HEARTBEAT_INTERVAL": interval}
    settings = settings_from_env(env)
    assert settings is not None
    assert settings.heartbeat_interval_s == seconds


@pytest.mark.parametrize(
    ("interval", "fragment"),
    [
        ("10", "missing unit"),
        ("ten seconds", "invalid duration"),
        ("5sec", "unknown unit 'sec'"),
        ("0", "must be positive"),
        ("-1s", "must be positive"),
    ],
)
def test_bad_heartbeat_interval_names_the_variable(interval, fragment):
    env = {"ENABLE_FLOWCTL": "true", "COMPONENT_ID": "x", "FLOWCTL_HEARTBEAT_INTERVAL": interval}
    with pytest.raises(ControlPlaneConfigError) as info:
        settings_from_env(env)
    assert "FLOWCTL_HEARTBEAT_INTERVAL" in str(info.value)
    assert fragment in str(info.value)


def test_empty_endpoint_means_the_default():
    env = {"ENABLE_FLOWCTL": "true", "COMPONENT_ID": "x", "FLOWCTL_ENDPOINT": ""}
    settings = settings_from_env(env)
    assert settings is not None
    assert settings.endpoint == "localhost:8080"


@pytest.mark.parametrize("endpoint", ["http://localhost:8080", "grpc://cp:8080"])
def test_url_endpoint_is_refused_with_the_remedy(endpoint):
    env = {"ENABLE_FLOWCTL": "true", "COMPONENT_ID": "x", "FLOWCTL_ENDPOINT": endpoint}
    with pytest.raises(ControlPlaneConfigError, match="give host:port"):
        settings_from_env(env)


def test_the_library_does_not_read_os_environ(monkeypatch):
    monkeypatch.setenv("ENABLE_FLOWCTL", "true")
    monkeypatch.setenv("FLOWCTL_COMPONENT_ID", "from-os-environ")
    assert settings_from_env({}) is None


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("heartbeat_interval_s", 0, "heartbeat_interval_s must be > 0"),
        ("rpc_timeout_s", -1, "rpc_timeout_s must be > 0"),
        ("backoff_initial_s", 0, "backoff_initial_s must be > 0"),
        ("unregister_timeout_s", 0, "unregister_timeout_s must be > 0"),
        ("backoff_max_s", 0.1, "backoff_max_s (0.1) must be >= backoff_initial_s"),
        ("status_poll_interval_s", -0.5, "status_poll_interval_s must be >= 0"),
        ("component_id", "", "component id is empty; set FLOWCTL_COMPONENT_ID"),
        ("endpoint", " ", "endpoint is empty; set FLOWCTL_ENDPOINT"),
    ],
)
def test_settings_are_validated(field, value, fragment):
    settings = ControlPlaneSettings(component_id="x")
    with pytest.raises(ControlPlaneConfigError) as info:
        dataclasses.replace(settings, **{field: value})
    assert fragment in str(info.value)


def test_settings_are_frozen():
    settings = ControlPlaneSettings(component_id="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.component_id = "y"  # type: ignore[misc]


# --- backoff ----------------------------------------------------------------------------------


def test_backoff_doubles_to_the_cap_with_jitter_and_resets():
    backoff = Backoff(0.5, 30.0, rng=random.Random(7))
    delays = [backoff.next() for _ in range(12)]
    bases = [min(30.0, 0.5 * 2**i) for i in range(12)]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.8 <= delay <= min(30.0, base * 1.2)
    assert delays[-1] <= 30.0
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    assert backoff.attempt == 12
    backoff.reset()
    assert 0.4 <= backoff.next() <= 0.6


def test_backoff_without_jitter_is_exact():
    backoff = Backoff(0.5, 4.0, jitter=0.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_survives_many_attempts():
    backoff = Backoff(0.5, 30.0, jitter=0.0)
    for _ in range(2000):
        delay = backoff.next()
    assert delay == 30.0


@pytest.mark.parametrize(
    "kwargs", [{"initial": 0, "maximum": 1}, {"initial": 2, "maximum": 1}, {"jitter": 1.0}]
)
def test_backoff_rejects_nonsense(kwargs):
    args = {"initial": 0.5, "maximum": 30.0, **kwargs}
    with pytest.raises(ValueError, match="need"):
        Backoff(args.pop("initial"), args.pop("maximum"), **args)


# --- the client, before it touches the network -----------------------------------------------


def _info(**fields: Any) -> common_pb2.ComponentInfo:
    return common_pb2.ComponentInfo(type=common_pb2.COMPONENT_TYPE_PROCESSOR, **fields)


def test_client_sets_the_component_id_on_the_info():
    client = ControlPlaneClient(
        ControlPlaneSettings(component_id="ttp"),
        _info(endpoint="127.0.0.1:50051"),
        lambda: common_pb2.HEALTH_STATUS_HEALTHY,
        dict,
    )
    assert client.info.id == "ttp"
    assert client.info.endpoint == "127.0.0.1:50051"
    assert (client.registered, client.service_id, client.registrations) == (False, None, 0)
    assert (client.heartbeats_sent, client.last_error, client.first_healthy_heartbeat_at) == (
        0,
        None,
        None,
    )
    client.stop()  # never started: nothing to do


def test_client_refuses_an_info_id_that_is_not_the_component_id():
    with pytest.raises(ControlPlaneConfigError, match="FLOWCTL_COMPONENT_ID"):
        ControlPlaneClient(
            ControlPlaneSettings(component_id="ttp"),
            _info(id="something-else"),
            lambda: common_pb2.HEALTH_STATUS_HEALTHY,
            dict,
        )


def test_client_keeps_its_own_copy_of_the_info():
    info = _info()
    client = ControlPlaneClient(ControlPlaneSettings(component_id="ttp"), info, lambda: 2, dict)
    info.endpoint = "changed-later"
    assert client.info.endpoint == ""
    assert info.id == ""


def test_metrics_become_strings_as_go_prints_them():
    assert [cp._metric_text(v) for v in (True, False, 3, 1.5, "x")] == [
        "true",
        "false",
        "3",
        "1.5",
        "x",
    ]


def test_module_exports():
    from reference_host.rpc import flowctl_env

    assert sorted(cp.__all__) == cp.__all__
    for name in cp.__all__:  # the client here; settings, durations, backoff in flowctl_env
        assert getattr(cp, name).__module__ in (cp.__name__, flowctl_env.__name__)
    assert set(flowctl_env.__all__) < set(cp.__all__)
