"""An in-process ``flowctl.v1.ControlPlaneService`` behaving like flowctl's, for tests.

Modelled on flowctl's ``internal/api/control_plane.go`` as described in
``/work/shared/notes/flowctl-v1-contract.md``:

- RegisterComponent: service id = ``component_id``, else ``component.id``, else
  ``"<ComponentType>-<unixnano>"``; status HEALTHY, ``last_heartbeat = registered_at = now``;
  ``assigned_topics`` = ``"<output type>.v1"`` for sources and processors; ``connection_info`` =
  ``{"control_plane_endpoint": "localhost:8080"}``; never fails.
- Heartbeat: unknown id -> gRPC UNKNOWN ``service <id> not found`` (a plain Go error); otherwise
  last-seen = now, metrics merged, status = ``req.status`` unless UNKNOWN (a stored UNKNOWN
  becomes HEALTHY).
- A janitor marks HEALTHY services not seen for ``ttl`` UNHEALTHY every ``janitor_interval``
  (flowctl: 30 s / 10 s; tests use fractions of a second).
- ListComponents: HEALTHY only unless ``include_unhealthy``, optional type filter.
- GetComponentStatus: unknown id is an error; UnregisterComponent deletes; DiscoverComponents
  filters by type, event types (OR over input and output types) and metadata (AND).

Besides the state, the servicer records every request (``register_requests``, ``heartbeats``,
``unregistered``), the janitor's runs and every status change, for assertions.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import NoReturn

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from reference_host.rpc.gen.flowctl.v1 import common_pb2, control_plane_pb2, control_plane_pb2_grpc

HEALTHY = common_pb2.HEALTH_STATUS_HEALTHY
UNHEALTHY = common_pb2.HEALTH_STATUS_UNHEALTHY
UNKNOWN = common_pb2.HEALTH_STATUS_UNKNOWN


def _timestamp(wall: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(wall * 1e9))
    return ts


@dataclass
class Entry:
    """One registered service."""

    component: common_pb2.ComponentInfo
    status: common_pb2.HealthStatus
    registered_at: float  # wall clock
    last_heartbeat: float  # wall clock
    last_seen: float  # monotonic, what the janitor compares with the TTL
    metrics: dict[str, str] = field(default_factory=dict)

    def as_status(self) -> control_plane_pb2.ComponentStatusResponse:
        return control_plane_pb2.ComponentStatusResponse(
            component=self.component,
            status=self.status,
            last_heartbeat=_timestamp(self.last_heartbeat),
            metrics=self.metrics,
            registered_at=_timestamp(self.registered_at),
        )


class ControlPlaneService(control_plane_pb2_grpc.ControlPlaneServiceServicer):
    """flowctl's control plane, in memory, with a janitor thread (``close()`` stops it)."""

    def __init__(self, *, ttl: float = 30.0, janitor_interval: float = 10.0) -> None:
        self.ttl = ttl
        self.janitor_interval = janitor_interval
        self.lock = threading.Lock()
        self.services: dict[str, Entry] = {}
        self.register_requests: list[control_plane_pb2.RegisterRequest] = []
        self.heartbeats: list[control_plane_pb2.HeartbeatRequest] = []
        self.unregistered: list[str] = []
        self.janitor_runs = 0
        # (service id, old status, new status, reason) for every change of a stored status
        self.status_changes: list[tuple[str, int, int, str]] = []
        self._closed = threading.Event()
        self._janitor = threading.Thread(target=self._janitor_loop, name="fake-cp-janitor")
        self._janitor.daemon = True
        self._janitor.start()

    # ------------------------------------------------------------------ helpers for tests

    def close(self) -> None:
        self._closed.set()
        self._janitor.join()

    def status_of(self, service_id: str) -> common_pb2.HealthStatus | None:
        with self.lock:
            entry = self.services.get(service_id)
            return None if entry is None else entry.status

    def entry(self, service_id: str) -> Entry | None:
        with self.lock:
            return self.services.get(service_id)

    def listed_ids(self, *, include_unhealthy: bool = False) -> list[str]:
        """What the orchestrator sees: ``ComponentInfo.id`` of the listed components."""
        response = self.ListComponents(
            control_plane_pb2.ListComponentsRequest(include_unhealthy=include_unhealthy), None
        )
        return [c.component.id for c in response.components]

    def _set_status(
        self, service_id: str, entry: Entry, status: common_pb2.HealthStatus, reason: str
    ) -> None:
        if entry.status != status:
            self.status_changes.append((service_id, entry.status, status, reason))
            entry.status = status

    def _janitor_loop(self) -> None:
        while not self._closed.wait(self.janitor_interval):
            now = time.monotonic()
            with self.lock:
                for service_id, entry in self.services.items():
                    if now - entry.last_seen > self.ttl and entry.status == HEALTHY:
                        self._set_status(service_id, entry, UNHEALTHY, "janitor")
                self.janitor_runs += 1

    @staticmethod
    def _not_found(context: grpc.ServicerContext, service_id: str) -> NoReturn:
        context.abort(grpc.StatusCode.UNKNOWN, f"service {service_id} not found")
        raise AssertionError("abort returns only by raising")

    # ------------------------------------------------------------------ the service

    def RegisterComponent(
        self, request: control_plane_pb2.RegisterRequest, context: grpc.ServicerContext
    ) -> control_plane_pb2.RegisterResponse:
        component = request.component
        service_id = request.component_id or component.id
        if not service_id:
            service_id = f"{common_pb2.ComponentType.Name(component.type)}-{time.time_ns()}"
        wall = time.time()
        with self.lock:
            self.register_requests.append(request)
            stored = common_pb2.ComponentInfo()
            stored.CopyFrom(component)
            self.services[service_id] = Entry(
                component=stored,
                status=HEALTHY,
                registered_at=wall,
                last_heartbeat=wall,
                last_seen=time.monotonic(),
            )
        topics = []
        if component.type in (
            common_pb2.COMPONENT_TYPE_SOURCE,
            common_pb2.COMPONENT_TYPE_PROCESSOR,
        ):
            topics = [f"{t}.v1" for t in component.output_event_types]
        return control_plane_pb2.RegisterResponse(
            service_id=service_id,
            assigned_topics=topics,
            connection_info={"control_plane_endpoint": "localhost:8080"},
        )

    def UnregisterComponent(
        self, request: control_plane_pb2.UnregisterRequest, context: grpc.ServicerContext | None
    ) -> empty_pb2.Empty:
        with self.lock:
            self.unregistered.append(request.service_id)
            self.services.pop(request.service_id, None)
        return empty_pb2.Empty()

    def Heartbeat(
        self, request: control_plane_pb2.HeartbeatRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        with self.lock:
            self.heartbeats.append(request)
            entry = self.services.get(request.service_id)
            if entry is not None:
                entry.last_seen = time.monotonic()
                entry.last_heartbeat = time.time()
                entry.metrics.update(request.metrics)
                if request.status != UNKNOWN:
                    self._set_status(request.service_id, entry, request.status, "heartbeat")
                elif entry.status == UNKNOWN:
                    self._set_status(request.service_id, entry, HEALTHY, "heartbeat")
        if entry is None:
            self._not_found(context, request.service_id)
        return empty_pb2.Empty()

    def GetComponentStatus(
        self, request: control_plane_pb2.ComponentStatusRequest, context: grpc.ServicerContext
    ) -> control_plane_pb2.ComponentStatusResponse:
        with self.lock:
            entry = self.services.get(request.service_id)
            response = None if entry is None else entry.as_status()
        if response is None:
            self._not_found(context, request.service_id)
        return response

    def ListComponents(
        self, request: control_plane_pb2.ListComponentsRequest, context: grpc.ServicerContext | None
    ) -> control_plane_pb2.ListComponentsResponse:
        with self.lock:
            entries = [
                e.as_status()
                for e in self.services.values()
                if (request.include_unhealthy or e.status == HEALTHY)
                and request.type_filter in (common_pb2.COMPONENT_TYPE_UNSPECIFIED, e.component.type)
            ]
        return control_plane_pb2.ListComponentsResponse(components=entries)

    def DiscoverComponents(
        self, request: control_plane_pb2.DiscoveryRequest, context: grpc.ServicerContext
    ) -> control_plane_pb2.DiscoveryResponse:
        wanted = set(request.event_types)
        with self.lock:
            found = []
            for e in self.services.values():
                c = e.component
                if request.type not in (common_pb2.COMPONENT_TYPE_UNSPECIFIED, c.type):
                    continue
                if wanted and not wanted & {*c.input_event_types, *c.output_event_types}:
                    continue
                if any(c.metadata.get(k) != v for k, v in request.metadata_filters.items()):
                    continue
                found.append(c)
        return control_plane_pb2.DiscoveryResponse(components=found)


def serve_control_plane(
    port: int = 0,
    *,
    ttl: float = 30.0,
    janitor_interval: float = 10.0,
    servicer_class: type[ControlPlaneService] = ControlPlaneService,
) -> tuple[grpc.Server, ControlPlaneService, int]:
    """Serve a fresh control plane on ``127.0.0.1:port`` (0: a free port).

    Returns ``(server, servicer, port)``; stop with :func:`stop_control_plane` (``server.stop(0)``
    plus the janitor).  Binding an explicit port is retried for a moment (a port just released).
    """
    servicer = servicer_class(ttl=ttl, janitor_interval=janitor_interval)
    deadline = time.monotonic() + 5.0
    while True:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="fake-cp"),
            options=[("grpc.so_reuseport", 0)],
        )
        control_plane_pb2_grpc.add_ControlPlaneServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        try:
            bound = server.add_insecure_port(f"127.0.0.1:{port}")
        except RuntimeError:
            bound = 0
        if bound:
            break
        server.stop(0)
        if port == 0 or time.monotonic() > deadline:
            servicer.close()
            raise RuntimeError(f"cannot bind 127.0.0.1:{port} for the fake control plane")
        time.sleep(0.05)
    server.start()
    return server, servicer, bound


def stop_control_plane(server: grpc.Server, servicer: ControlPlaneService) -> None:
    server.stop(0).wait()
    servicer.close()


class ControlPlane:
    """A running fake control plane that can be restarted (same port, state lost) and stopped."""

    def __init__(
        self,
        port: int = 0,
        *,
        ttl: float = 30.0,
        janitor_interval: float = 10.0,
        servicer_class: type[ControlPlaneService] = ControlPlaneService,
    ) -> None:
        self.ttl, self.janitor_interval = ttl, janitor_interval
        self.servicer_class = servicer_class
        self.server, self.servicer, self.port = serve_control_plane(
            port, ttl=ttl, janitor_interval=janitor_interval, servicer_class=servicer_class
        )
        self.running = True

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.running:
            self.running = False
            stop_control_plane(self.server, self.servicer)

    def restart(self) -> None:
        """A new server on the same port with empty state (flowctl restarted)."""
        self.stop()
        self.server, self.servicer, _ = serve_control_plane(
            self.port,
            ttl=self.ttl,
            janitor_interval=self.janitor_interval,
            servicer_class=self.servicer_class,
        )
        self.running = True

    def stub(self) -> tuple[grpc.Channel, control_plane_pb2_grpc.ControlPlaneServiceStub]:
        channel = grpc.insecure_channel(self.endpoint)
        return channel, control_plane_pb2_grpc.ControlPlaneServiceStub(channel)  # type: ignore[no-untyped-call]
