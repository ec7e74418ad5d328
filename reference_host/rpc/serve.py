"""``flowctl-host serve``: the host as a flowctl processor, start to drain.

Order of events: load the component and initialize the service instance with the policy's config
(a refused config stops here) -> listen (gRPC, then the HTTP health endpoints) -> register with
flowctl's control plane when asked (``ENABLE_FLOWCTL``; registration comes after listening, so
flowctl never dials an endpoint that is not there yet, and a control plane that is down or late
only delays it) -> serve -> on SIGTERM/SIGINT: drain (no new events are read; every event read is
processed and answered; new streams are refused), shut the component's instances down,
unregister, stop, exit 0.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_host.policy import Policy
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb
from reference_host.rpc.instances import InstanceFactory
from reference_host.rpc.server import HostServer
from reference_host.rpc.servicer import HostState
from reference_host.rpc.stream import BatchDone

_STATUS_NAMES: dict[pb.HealthStatus, str] = {
    pb.HEALTH_STATUS_UNKNOWN: "UNKNOWN", pb.HEALTH_STATUS_STARTING: "STARTING",
    pb.HEALTH_STATUS_HEALTHY: "HEALTHY", pb.HEALTH_STATUS_DEGRADED: "DEGRADED",
    pb.HEALTH_STATUS_UNHEALTHY: "UNHEALTHY", pb.HEALTH_STATUS_STOPPING: "STOPPING",
}  # fmt: skip


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``serve`` needs, resolved once by the CLI."""

    policy: Policy
    component: Path
    component_id: str
    host: str = "127.0.0.1"
    port: int = 50051
    health_port: int | None = None
    advertise: str | None = None
    batch_timeout_s: float = 0.05
    use_process_batch: bool = False
    drain_timeout_s: float = 30.0
    cache_dir: Path | None = None
    allow_refused_config: bool = False
    extension: bool = True
    control_plane: Any = None  # rpc.control_plane.ControlPlaneSettings


def parse_port(text: str) -> int:
    """A port from ``50051``, ``:50051`` or ``host:50051`` (the SDK's ``PORT`` forms)."""
    raw = text.rsplit(":", 1)[-1].strip()
    if not raw.isdigit() or not 0 <= int(raw) < 65536:
        raise ValueError(f"not a port: {text!r} (expected 50051 or :50051)")
    return int(raw)


class Service:
    """One running ``serve``: gRPC, HTTP health, control-plane registration."""

    def __init__(self, settings: ServeSettings) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.settings = settings
        self.stop_requested = threading.Event()
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self._received = Counter("flowctl_host_events_received", "events read from streams",
                                 registry=registry)  # fmt: skip
        self._failed = Counter("flowctl_host_events_failed", "events answered by an error event",
                               registry=registry)  # fmt: skip
        self._emitted = Counter("flowctl_host_events_emitted", "output events sent",
                                registry=registry)  # fmt: skip
        buckets = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
        self._batch = Histogram("flowctl_host_batch_seconds", "time to answer one batch",
                                registry=registry, buckets=buckets)  # fmt: skip
        factory = InstanceFactory(
            settings.policy, settings.component, settings.component_id, settings.cache_dir
        )
        registry.register(factory.metrics)
        self.state = HostState(
            factory, batch_size=settings.policy.batch_size,
            batch_timeout_s=settings.batch_timeout_s,
            use_process_batch=settings.use_process_batch, on_batch=self._on_batch,
            allow_refused_config=settings.allow_refused_config,
        )  # fmt: skip
        Gauge("flowctl_host_streams_active", "Process streams open",
              registry=registry).set_function(lambda: self.state.streams_active)  # fmt: skip
        self.grpc = HostServer(
            self.state, settings.host, settings.port, extension=settings.extension
        )
        self.state.endpoint = settings.advertise or f"{settings.host}:{self.grpc.port}"
        self.http: Any = None
        self.control_plane: Any = None
        self.ready_at: float | None = None

    def _on_batch(self, done: BatchDone) -> None:
        self._batch.observe(done.seconds)
        self._received.inc(done.received)
        self._failed.inc(done.failed)
        self._emitted.inc(done.emitted)

    def status_name(self) -> str:
        """The host's status as the SDK's string (STARTING ... STOPPING)."""
        return _STATUS_NAMES[self.state.health()[0]]

    def start(self) -> Service:
        """Listen, then register."""
        self.grpc.start()
        if self.settings.health_port is not None:
            from reference_host.rpc.health_http import HealthServer

            self.http = HealthServer(
                self.settings.host, self.settings.health_port, self.status_name, self.registry,
                self.state.counters,
            ).start()  # fmt: skip
        if self.settings.control_plane is not None:
            from reference_host.rpc.control_plane import ControlPlaneClient

            self.control_plane = ControlPlaneClient(
                self.settings.control_plane, self.state.component_info(),
                lambda: self.state.health()[0], self.state.counters,
            )  # fmt: skip
            self.control_plane.start()
        self.ready_at = time.monotonic()
        return self

    def drain_and_stop(self) -> None:
        """Drain, shut the component down, unregister, stop everything this service started."""
        self.state.draining.set()
        self.grpc.refresh_health()
        self.state.wait_idle(self.settings.drain_timeout_s)
        if self.control_plane is not None:
            self.control_plane.stop(unregister=True)
        self.grpc.stop(grace=1.0)
        try:
            self.state.service.shutdown()
        finally:
            self.state.service.close()
        if self.http is not None:
            self.http.stop()


def run_until_signalled(service: Service) -> int:
    """Serve until SIGTERM/SIGINT, then drain and stop; 0."""
    import signal

    def handler(_signum: int, _frame: Any) -> None:
        service.stop_requested.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not service.stop_requested.wait(0.5):
            service.grpc.refresh_health()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    service.drain_and_stop()
    return 0


def environment() -> Mapping[str, str]:
    """The process environment (read by the CLI only; the library is given what it needs)."""
    return os.environ
