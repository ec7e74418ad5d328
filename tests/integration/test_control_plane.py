"""ControlPlaneClient against an in-process flowctl-like control plane, over sockets on 127.0.0.1.

Intervals are fractions of a second; every wait polls with a timeout (``wait_until``), nothing
asserts on a fixed sleep.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from typing import Any, TypeVar

import grpc
import pytest

from reference_host.rpc.control_plane import (
    ControlPlaneClient,
    ControlPlaneSettings,
    settings_from_env,
)
from reference_host.rpc.gen.flowctl.v1 import common_pb2, control_plane_pb2
from tests.flowctl_control_plane import ControlPlane, ControlPlaneService
from tests.waiting import Knob, wait_until

pytestmark = pytest.mark.integration

PIPELINE_ID = "ttp-processor"
ENDPOINT = "127.0.0.1:50051"
HEALTHY = common_pb2.HEALTH_STATUS_HEALTHY
DEGRADED = common_pb2.HEALTH_STATUS_DEGRADED
STARTING = common_pb2.HEALTH_STATUS_STARTING
UNHEALTHY = common_pb2.HEALTH_STATUS_UNHEALTHY
UNKNOWN = common_pb2.HEALTH_STATUS_UNKNOWN
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processor_info(**fields: Any) -> common_pb2.ComponentInfo:
    return common_pb2.ComponentInfo(
        name="ttp",
        version="1.2.3",
        type=common_pb2.COMPONENT_TYPE_PROCESSOR,
        endpoint=ENDPOINT,
        input_event_types=["stellar.ledger.v1"],
        output_event_types=["stellar.token.transfer.v1"],
        metadata={"processor_name": "ttp", "host": "reference_host"},
        **fields,
    )


def fast(settings: ControlPlaneSettings, **changes: Any) -> ControlPlaneSettings:
    """Test-speed timings."""
    timings = {
        "heartbeat_interval_s": 0.1,
        "rpc_timeout_s": 1.0,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.3,
        "unregister_timeout_s": 1.0,
        "status_poll_interval_s": 0.02,
    }
    return dataclasses.replace(settings, **{**timings, **changes})


@pytest.fixture
def control_plane():
    plane = ControlPlane(ttl=1.0, janitor_interval=0.1)
    yield plane
    plane.stop()


@pytest.fixture
def make_client():
    """Factory: a started client (stopped at teardown without unregistering)."""
    clients = []

    def make(endpoint, *, status=None, metrics=None, info=None, **changes):
        settings = fast(
            ControlPlaneSettings(component_id=PIPELINE_ID, endpoint=endpoint), **changes
        )
        client = ControlPlaneClient(
            settings,
            info if info is not None else processor_info(),
            status if status is not None else Knob(HEALTHY),
            metrics if metrics is not None else Knob({"events_processed": "0"}),
        )
        clients.append(client)
        return client.start()

    yield make
    for client in clients:
        client.stop(unregister=False)


def listed(plane: ControlPlane, component_id: str = PIPELINE_ID) -> list[str]:
    """The orchestrator's lookup: default ListComponents (HEALTHY only), match ComponentInfo.id."""
    return [c for c in plane.servicer.listed_ids() if c == component_id]


# --- registration -----------------------------------------------------------------------------


def test_registers_with_the_pipeline_id_from_the_environment(control_plane, make_client):
    env = {
        "ENABLE_FLOWCTL": "true",
        "FLOWCTL_ENDPOINT": control_plane.endpoint,
        "FLOWCTL_HEARTBEAT_INTERVAL": "100ms",
        "FLOWCTL_SERVICE_ID": PIPELINE_ID,
        "FLOWCTL_COMPONENT_ID": PIPELINE_ID,
    }
    settings = settings_from_env(env)
    assert settings is not None
    client = make_client(settings.endpoint, heartbeat_interval_s=settings.heartbeat_interval_s)
    wait_until(lambda: client.registered, what="registration")

    request = control_plane.servicer.register_requests[0]
    assert request.component_id == PIPELINE_ID
    assert request.component.id == PIPELINE_ID
    assert request.component.type == common_pb2.COMPONENT_TYPE_PROCESSOR
    assert request.component.endpoint == ENDPOINT
    assert list(request.component.input_event_types) == ["stellar.ledger.v1"]
    assert list(request.component.output_event_types) == ["stellar.token.transfer.v1"]
    assert dict(request.component.metadata) == {"processor_name": "ttp", "host": "reference_host"}
    assert (request.component.name, request.component.version) == ("ttp", "1.2.3")
    assert client.service_id == PIPELINE_ID
    assert client.registrations == 1
    # flowctl appends ".v1" to every output type, even one that ends in ".v1" already
    assert client.assigned_topics == ("stellar.token.transfer.v1.v1",)


def test_the_orchestrator_finds_and_dials_the_registered_endpoint(control_plane, make_client):
    client = make_client(control_plane.endpoint)
    wait_until(lambda: client.heartbeats_sent >= 1, what="a heartbeat")
    channel, stub = control_plane.stub()
    with channel:
        components = stub.ListComponents(control_plane_pb2.ListComponentsRequest(), timeout=5)
        status = stub.GetComponentStatus(
            control_plane_pb2.ComponentStatusRequest(service_id=PIPELINE_ID), timeout=5
        )
    found = [c for c in components.components if c.component.id == PIPELINE_ID]
    assert [c.component.endpoint for c in found] == [ENDPOINT]
    assert status.status == HEALTHY
    assert status.component.id == PIPELINE_ID


def test_an_adopted_service_id_is_used_for_heartbeats(make_client):
    class Renaming(ControlPlaneService):
        def RegisterComponent(self, request, context):
            response = super().RegisterComponent(request, context)
            with self.lock:
                self.services["svc-42"] = self.services.pop(response.service_id)
            response.service_id = "svc-42"
            return response

    plane = ControlPlane(servicer_class=Renaming)
    try:
        client = make_client(plane.endpoint)
        wait_until(lambda: client.heartbeats_sent >= 2, what="heartbeats")
        assert client.service_id == "svc-42"
        assert {h.service_id for h in plane.servicer.heartbeats} == {"svc-42"}
        assert client.registrations == 1
    finally:
        plane.stop()


# --- heartbeats -------------------------------------------------------------------------------


def test_heartbeats_carry_the_real_status_and_metrics(control_plane, make_client):
    status = Knob(HEALTHY)
    metrics = Knob({"events_processed": "1", "events_failed": "0"})
    client = make_client(control_plane.endpoint, status=status, metrics=metrics)
    servicer = control_plane.servicer
    wait_until(lambda: client.heartbeats_sent >= 2, what="heartbeats")
    assert servicer.heartbeats[-1].status == HEALTHY
    assert dict(servicer.heartbeats[-1].metrics) == {"events_processed": "1", "events_failed": "0"}

    status.value = DEGRADED
    metrics.value = {"events_processed": "7"}
    wait_until(lambda: servicer.status_of(PIPELINE_ID) == DEGRADED, what="DEGRADED stored")
    assert not listed(control_plane)  # DEGRADED leaves the default listing...
    assert PIPELINE_ID in servicer.listed_ids(include_unhealthy=True)  # ...not the registry
    wait_until(lambda: servicer.entry(PIPELINE_ID).metrics["events_processed"] == "7")
    assert servicer.entry(PIPELINE_ID).metrics["events_failed"] == "0"  # merged, not replaced

    status.value = HEALTHY
    wait_until(lambda: listed(control_plane), what="HEALTHY again")
    # never the Go SDK's always-UNKNOWN status
    assert UNKNOWN not in {h.status for h in servicer.heartbeats}


def test_a_status_change_is_reported_before_the_next_interval(control_plane, make_client):
    status = Knob(STARTING)
    client = make_client(control_plane.endpoint, status=status, heartbeat_interval_s=30.0)
    servicer = control_plane.servicer
    wait_until(lambda: client.heartbeats_sent == 1, what="the first heartbeat")
    assert servicer.heartbeats[0].status == STARTING
    assert not listed(control_plane)  # STARTING: not routed to yet
    assert client.first_healthy_heartbeat_at is None

    status.value = HEALTHY
    # far sooner than the 30 s interval: the client polls the status and heartbeats on a change
    wait_until(lambda: client.first_healthy_heartbeat_at is not None, timeout=5.0)
    assert listed(control_plane)
    assert client.first_healthy_heartbeat_at >= client.started_at
    assert [h.status for h in servicer.heartbeats] == [STARTING, HEALTHY]


def test_wake_sends_a_heartbeat_now(control_plane, make_client):
    metrics = Knob({"n": "1"})
    client = make_client(control_plane.endpoint, metrics=metrics, heartbeat_interval_s=30.0)
    wait_until(lambda: client.heartbeats_sent == 1)
    metrics.value = {"n": "2"}
    client.wake()
    wait_until(lambda: client.heartbeats_sent == 2, timeout=5.0)
    assert control_plane.servicer.entry(PIPELINE_ID).metrics == {"n": "2"}


def test_failing_callables_report_unhealthy_without_metrics(control_plane, make_client):
    status = Knob(RuntimeError("status broke"))
    metrics = Knob(RuntimeError("metrics broke"))
    client = make_client(control_plane.endpoint, status=status, metrics=metrics)
    wait_until(lambda: client.heartbeats_sent >= 2)
    last = control_plane.servicer.heartbeats[-1]
    assert (last.status, dict(last.metrics)) == (UNHEALTHY, {})
    status.value, metrics.value = HEALTHY, {"ok": "1"}
    wait_until(lambda: listed(control_plane))


def test_stays_listed_across_janitor_runs_while_heartbeating(control_plane, make_client):
    servicer = control_plane.servicer
    client = make_client(control_plane.endpoint)
    wait_until(lambda: client.heartbeats_sent >= 1)
    # a component that registered and then went silent: the janitor's control case
    channel, stub = control_plane.stub()
    with channel:
        stub.RegisterComponent(
            control_plane_pb2.RegisterRequest(
                component=common_pb2.ComponentInfo(
                    id="silent", type=common_pb2.COMPONENT_TYPE_PROCESSOR
                ),
                component_id="silent",
            ),
            timeout=5,
        )
    runs = servicer.janitor_runs
    wait_until(lambda: servicer.status_of("silent") == UNHEALTHY, what="the janitor")
    # well past the TTL (1 s at a 0.1 s janitor interval)
    wait_until(lambda: servicer.janitor_runs >= runs + 15, what="janitor runs")
    assert ("silent", HEALTHY, UNHEALTHY, "janitor") in servicer.status_changes
    assert not [c for c in servicer.status_changes if c[0] == PIPELINE_ID]
    assert listed(control_plane)
    assert servicer.listed_ids() == [PIPELINE_ID]


# --- the control plane goes away --------------------------------------------------------------


def test_reregisters_after_the_control_plane_restarts(control_plane, make_client):
    client = make_client(control_plane.endpoint)
    wait_until(lambda: client.heartbeats_sent >= 2)
    old = control_plane.servicer
    control_plane.restart()  # same port, state lost
    assert control_plane.servicer is not old
    wait_until(lambda: listed(control_plane), what="registered with the new control plane")
    wait_until(lambda: client.registrations == 2)
    # the new control plane first answered "service <id> not found" (or the old one vanished)
    assert client.last_error is not None
    assert control_plane.servicer.register_requests[0].component.id == PIPELINE_ID
    sent = client.heartbeats_sent
    wait_until(lambda: client.heartbeats_sent >= sent + 2, what="heartbeats after re-registering")
    assert client.consecutive_failures == 0


def test_reregisters_when_the_control_plane_forgets_the_service(control_plane, make_client):
    client = make_client(control_plane.endpoint)
    wait_until(lambda: client.heartbeats_sent >= 1)
    control_plane.servicer.UnregisterComponent(
        control_plane_pb2.UnregisterRequest(service_id=PIPELINE_ID), None
    )
    wait_until(lambda: client.registrations == 2, what="re-registration")
    assert f"service {PIPELINE_ID} not found" in client.last_error
    assert "UNKNOWN" in client.last_error  # flowctl's plain Go error
    wait_until(lambda: listed(control_plane))


def test_registers_once_a_late_control_plane_comes_up(make_client):
    port = free_port()
    client = make_client(f"127.0.0.1:{port}", rpc_timeout_s=0.3)
    wait_until(lambda: client.consecutive_failures >= 2, what="failed attempts")
    assert not client.registered
    assert client.last_error.startswith("RegisterComponent: ")
    plane = ControlPlane(port, ttl=1.0, janitor_interval=0.1)
    try:
        wait_until(lambda: client.registered, what="registration once it is up")
        wait_until(lambda: listed(plane))
        assert client.registrations == 1
    finally:
        plane.stop()


def test_an_unreachable_control_plane_never_stops_the_client(make_client):
    client = make_client(f"127.0.0.1:{free_port()}", rpc_timeout_s=0.2)
    wait_until(lambda: client.consecutive_failures >= 3)
    threads = [t for t in threading.enumerate() if t.name.startswith("flowctl-control-plane[")]
    assert threads
    assert all(t.is_alive() for t in threads)
    assert client.heartbeats_sent == 0


# --- stopping ---------------------------------------------------------------------------------


def test_stop_unregisters(control_plane, make_client):
    client = make_client(control_plane.endpoint)
    wait_until(lambda: client.heartbeats_sent >= 1)
    client.stop()
    assert control_plane.servicer.unregistered == [PIPELINE_ID]
    assert control_plane.servicer.services == {}
    assert not client.registered
    assert not [
        t for t in threading.enumerate() if t.name == f"flowctl-control-plane[{PIPELINE_ID}]"
    ]
    client.stop()  # idempotent
    with pytest.raises(RuntimeError, match="starts once"):
        client.start()


def test_stop_without_unregistering_leaves_the_registration(control_plane, make_client):
    client = make_client(control_plane.endpoint)
    wait_until(lambda: client.heartbeats_sent >= 1)
    client.stop(unregister=False)
    assert control_plane.servicer.unregistered == []
    assert PIPELINE_ID in control_plane.servicer.services


def test_stop_cancels_a_hanging_call(make_client):
    release = threading.Event()

    class Hanging(ControlPlaneService):
        def Heartbeat(self, request, context):
            if self.heartbeats:  # the first is answered, the next ones hang
                with self.lock:
                    self.heartbeats.append(request)
                release.wait(30)
            return super().Heartbeat(request, context)

    plane = ControlPlane(servicer_class=Hanging)
    try:
        client = make_client(plane.endpoint, rpc_timeout_s=20.0)
        wait_until(lambda: len(plane.servicer.heartbeats) >= 2, what="a hanging heartbeat")
        started = time.monotonic()
        client.stop()  # cancels the call (20 s deadline), then unregisters
        assert time.monotonic() - started < 10.0
        assert plane.servicer.unregistered == [PIPELINE_ID]
    finally:
        release.set()
        plane.stop()


def test_stop_is_quiet_when_the_control_plane_is_gone(control_plane, make_client):
    client = make_client(control_plane.endpoint, rpc_timeout_s=20.0, unregister_timeout_s=0.5)
    wait_until(lambda: client.heartbeats_sent >= 1)
    control_plane.stop()
    started = time.monotonic()
    client.stop()  # the waiting call is cancelled; the unregister fails, and is only logged
    assert time.monotonic() - started < 10.0
    assert client.registered  # it could not unregister


def test_context_manager(control_plane):
    settings = fast(ControlPlaneSettings(component_id=PIPELINE_ID, endpoint=control_plane.endpoint))
    with ControlPlaneClient(settings, processor_info(), Knob(HEALTHY), dict) as client:
        wait_until(lambda: client.registered)
    assert control_plane.servicer.unregistered == [PIPELINE_ID]


# --- the fake itself behaves like flowctl ------------------------------------------------------


def test_fake_answers_an_unknown_heartbeat_like_flowctl(control_plane):
    channel, stub = control_plane.stub()
    with channel, pytest.raises(grpc.RpcError) as info:
        stub.Heartbeat(control_plane_pb2.HeartbeatRequest(service_id="nope"), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert info.value.details() == "service nope not found"


def test_fake_service_ids_and_discovery(control_plane):
    channel, stub = control_plane.stub()
    with channel:
        by_info = stub.RegisterComponent(
            control_plane_pb2.RegisterRequest(component=processor_info(id="from-info")), timeout=5
        )
        anonymous = stub.RegisterComponent(
            control_plane_pb2.RegisterRequest(
                component=common_pb2.ComponentInfo(
                    type=common_pb2.COMPONENT_TYPE_CONSUMER,
                    input_event_types=["stellar.token.transfer.v1"],
                    metadata={"sink": "pg"},
                )
            ),
            timeout=5,
        )
        found = stub.DiscoverComponents(
            control_plane_pb2.DiscoveryRequest(event_types=["stellar.token.transfer.v1"]),
            timeout=5,
        )
        sinks = stub.DiscoverComponents(
            control_plane_pb2.DiscoveryRequest(metadata_filters={"sink": "pg"}), timeout=5
        )
        # UNKNOWN keeps the stored status
        stub.Heartbeat(
            control_plane_pb2.HeartbeatRequest(service_id="from-info", status=UNKNOWN), timeout=5
        )
    assert by_info.service_id == "from-info"
    assert by_info.connection_info == {"control_plane_endpoint": "localhost:8080"}
    assert anonymous.service_id.startswith("COMPONENT_TYPE_CONSUMER-")
    assert list(anonymous.assigned_topics) == []  # consumers get no topics
    assert len(found.components) == 2
    assert [c.type for c in sinks.components] == [common_pb2.COMPONENT_TYPE_CONSUMER]
    assert control_plane.servicer.status_of("from-info") == HEALTHY
