"""HealthServer over a real socket on 127.0.0.1, with a real HTTP client (httpx)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import prometheus_client
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from reference_host.rpc.control_plane import parse_go_duration
from reference_host.rpc.health_http import STATUSES, HealthServer, format_go_duration, prefers_json
from tests.waiting import Knob

pytestmark = pytest.mark.integration


def _registry() -> prometheus_client.CollectorRegistry:
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter(
        "flowctl_host_events_received", "events received", registry=registry
    )
    counter.inc(3)
    prometheus_client.Gauge("flowctl_host_up", "1 when serving", registry=registry).set(1)
    return registry


class Backend:
    """What one module-scoped server reads; reset before every test."""

    def __init__(self) -> None:
        self.status = Knob("HEALTHY")
        self.json_metrics = Knob({})
        self.registry = _registry()

    def reset(self) -> None:
        self.status.value = "HEALTHY"
        self.json_metrics.value = {"events_received": 3, "events_failed": 0}
        self.registry = _registry()

    def collect(
        self,
    ) -> Iterable[Metric]:  # the server's registry delegates here, so tests can swap it
        return self.registry.collect()


@pytest.fixture(scope="module")
def backend():
    return Backend()


@pytest.fixture(scope="module")
def module_server(backend):
    delegating = prometheus_client.CollectorRegistry()
    delegating.register(backend)
    server = HealthServer("127.0.0.1", 0, backend.status, delegating, backend.json_metrics).start()
    yield server
    server.stop()


@pytest.fixture
def server(module_server, backend):
    backend.reset()
    return module_server


@pytest.fixture
def status(server, backend):
    return backend.status


@pytest.fixture
def json_metrics(server, backend):
    return backend.json_metrics


@pytest.fixture
def registry(server, backend):
    return backend.registry


@pytest.fixture(scope="module")
def module_http(module_server):
    with httpx.Client(base_url=module_server.url, timeout=5.0) as client:
        yield client


@pytest.fixture
def http(server, module_http):
    return module_http


def _check_body(body: dict[str, Any], expected_status: str) -> None:
    assert set(body) >= {"status", "uptime", "timestamp"}
    assert body["status"] == expected_status
    assert parse_go_duration(body["uptime"]) >= 0  # Go's Duration.String() syntax
    stamp = datetime.fromisoformat(body["timestamp"])
    assert body["timestamp"].endswith("Z")
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)


def test_port_zero_picks_a_free_port(server):
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize("value", sorted(STATUSES))
def test_health_is_always_200(http, status, value):
    status.value = value
    response = http.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    _check_body(response.json(), value)
    assert "metrics" not in response.json()  # like the SDK: /health has no metrics


@pytest.mark.parametrize(
    ("value", "ready", "live"),
    [
        ("HEALTHY", 200, 200),
        ("STARTING", 503, 200),
        ("DEGRADED", 503, 200),
        ("STOPPING", 503, 200),
        ("UNKNOWN", 503, 200),
        ("UNHEALTHY", 503, 500),
    ],
)
def test_ready_and_live_codes(http, status, value, ready, live):
    status.value = value
    for path, code in (("/ready", ready), ("/live", live)):
        response = http.get(path)
        assert response.status_code == code, path
        _check_body(response.json(), value)


def test_status_follows_the_callable_between_requests(http, status):
    assert http.get("/ready").status_code == 200
    status.value = "STOPPING"
    assert http.get("/ready").status_code == 503
    status.value = "HEALTHY"
    assert http.get("/ready").status_code == 200


def test_a_failing_status_callable_reports_unhealthy(http, status):
    status.value = RuntimeError("boom")
    assert http.get("/health").json()["status"] == "UNHEALTHY"
    assert http.get("/live").status_code == 500


def test_an_unexpected_status_string_reports_unknown(http, status):
    status.value = "healthy"  # the legacy ttp-processor's spelling is not ours
    assert http.get("/health").json()["status"] == "UNKNOWN"
    assert http.get("/ready").status_code == 503


def test_uptime_grows(server, http):
    first = parse_go_duration(http.get("/health").json()["uptime"])
    # no sleep: a second request is later, and the clock is monotonic
    second = parse_go_duration(http.get("/health").json()["uptime"])
    assert second >= first


@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "text/plain;version=0.0.4"])
def test_metrics_prometheus_text(http, accept):
    headers = {} if accept is None else {"Accept": accept}
    response = http.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == prometheus_client.CONTENT_TYPE_LATEST
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["flowctl_host_events_received"].type == "counter"
    assert families["flowctl_host_events_received"].samples[0].value == 3.0
    assert families["flowctl_host_up"].samples[0].value == 1.0


def test_metrics_follow_the_registry(http, registry):
    prometheus_client.Counter("late_total", "registered later", registry=registry).inc()
    families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
    assert families["late"].samples[0].value == 1.0


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/json, text/plain;q=0.5",
        "text/plain;q=0.2, application/*;q=0.9",
        "application/json;q=0.8, */*;q=0.1",
    ],
)
def test_metrics_json_when_accept_prefers_it(http, status, accept):
    status.value = "DEGRADED"
    response = http.get("/metrics", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "uptime", "timestamp", "metrics"}
    _check_body(body, "DEGRADED")
    assert body["metrics"] == {"events_received": 3, "events_failed": 0}


def test_metrics_json_follows_the_callable(http, json_metrics):
    json_metrics.value = {"events_received": 10, "last_processed_ledger": "123"}
    body = http.get("/metrics", headers={"Accept": "application/json"}).json()
    assert body["metrics"] == {"events_received": 10, "last_processed_ledger": "123"}


def test_metrics_callable_failure_is_a_500(http, json_metrics):
    json_metrics.value = RuntimeError("broken")
    response = http.get("/metrics", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal error"
    assert http.get("/health").status_code == 200  # the server survives


@pytest.mark.parametrize(
    ("accept", "json_wins"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", True),
        ("APPLICATION/JSON", True),
        ("application/json;q=0", False),
        ("text/plain, application/json", False),  # a tie goes to text
        ("text/plain;q=0.5, application/json", True),
        ("application/*", True),
        ("application/openmetrics-text;version=1.0.0, application/json;q=0.5", False),
        # what a Prometheus server sends
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            False,
        ),
        ("application/json;q=oops", False),
    ],
)
def test_prefers_json(accept, json_wins):
    assert prefers_json(accept) is json_wins


@pytest.mark.parametrize("path", ["/", "/healthz", "/health/", "/metrics/x", "/READY"])
def test_unknown_paths_are_404_json(http, path):
    response = http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "not found", "path": path}


def test_query_strings_are_ignored(http):
    assert http.get("/ready?verbose=1").status_code == 200


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/health", None),
        ("/ready", None),
        ("/live", None),
        ("/metrics", None),
        ("/metrics", "application/json"),
        ("/nope", None),
    ],
)
@pytest.mark.parametrize("value", ["HEALTHY", "UNHEALTHY"])
def test_head_is_get_without_a_body(http, status, path, accept, value):
    status.value = value
    headers = {} if accept is None else {"Accept": accept}
    get = http.get(path, headers=headers)
    head = http.head(path, headers=headers)
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if path != "/metrics" or accept is None:  # the JSON bodies' uptime may differ in length
        assert int(head.headers["content-length"]) > 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(http, method):
    response = http.request(method, "/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert json.loads(response.content)["error"] == "method not allowed"


def test_stop_releases_the_port(status, registry, json_metrics):
    server = HealthServer("127.0.0.1", 0, status, registry, json_metrics).start()
    port = server.port
    assert httpx.get(f"{server.url}/live", timeout=5).status_code == 200
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/live", timeout=5)
    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_context_manager_and_a_given_port(status, registry, json_metrics):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with HealthServer("127.0.0.1", port, status, registry, json_metrics) as server:
        assert server.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200


def test_start_twice_is_refused(server):
    with pytest.raises(RuntimeError, match="already running"):
        server.start()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1e-9, "1ns"),
        (1.5e-6, "1.5µs"),
        (0.0015, "1.5ms"),
        (0.5, "500ms"),
        (1, "1s"),
        (62.5, "1m2.5s"),
        (3600, "1h0m0s"),
        (3661.001, "1h1m1.001s"),
        (-1.5, "-1.5s"),
        (90061.000000001, "25h1m1.000000001s"),
    ],
)
def test_format_go_duration_matches_go(seconds, text):
    assert format_go_duration(seconds) == text
