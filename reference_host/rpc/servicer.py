"""The gRPC servicers of ``flowctl-host serve``: thin adapters from gRPC to the host.

- ``flowctl.v1.ProcessorService``: ``GetInfo`` (the component's get-info as a ``ComponentInfo``
  of type PROCESSOR with the codec's type strings), ``HealthCheck`` (the component's
  health-check, the real ``HEALTH_STATUS_*`` value, the host's counters as metrics) and
  ``Process`` (one :class:`~reference_host.rpc.stream.StreamProcessor` per stream, on an instance
  of its own).
- ``flowctl_host.v1.ProcessorExtensionService``: what WIT has and flowctl.v1 lacks, on one
  extension instance that starts *uninitialized*, so a client drives the whole lifecycle
  (validate-config, initialize, process-event, process-batch, health-check, shutdown) as a local
  host would; answers carry ``ok`` / the WIT ``processor-error`` / a ``Failure`` (a trap or a
  limit stop, by the host's error class).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from reference_host import types as t
from reference_host.errors import FlowctlHostError, GuestError, ProcessorErrorResult
from reference_host.host import GrantedCapabilities
from reference_host.processor import ProcessorInstance
from reference_host.rpc import codec
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb
from reference_host.rpc.gen.flowctl.v1 import processor_pb2_grpc
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2 as ext
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2_grpc
from reference_host.rpc.instances import InstanceFactory
from reference_host.rpc.stream import BatchDone, StreamProcessor, StreamStats

HEALTH: dict[t.HealthState, pb.HealthStatus] = {
    t.HealthState.HEALTHY: pb.HEALTH_STATUS_HEALTHY,
    t.HealthState.DEGRADED: pb.HEALTH_STATUS_DEGRADED,
    t.HealthState.UNHEALTHY: pb.HEALTH_STATUS_UNHEALTHY,
    t.HealthState.UNKNOWN: pb.HEALTH_STATUS_UNKNOWN,
}


class HostState:
    """What the servicers share: the factory, the service instance, counters, drain flag."""

    def __init__(
        self,
        factory: InstanceFactory,
        *,
        batch_size: int,
        batch_timeout_s: float,
        use_process_batch: bool = False,
        endpoint: str = "",
        on_batch: Callable[[BatchDone], None] | None = None,
        allow_refused_config: bool = False,
    ) -> None:
        self.factory = factory
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.use_process_batch = use_process_batch
        self.endpoint = endpoint
        self.on_batch = on_batch
        self.draining = threading.Event()
        self.started = time.monotonic()
        self.lock = threading.Lock()
        #: why initialize refused the policy's config (only with ``allow_refused_config``)
        self.refused: str | None = None
        try:
            self.service, _granted = factory.new()  # refuses to start on a refused config
        except ProcessorErrorResult as exc:
            if not allow_refused_config:
                raise
            self.refused = f"initialize refused the configured config: {exc.error}"
            self.service, _granted = factory.new(initialize=False)
        self.info: t.ProcessorInfo = self.service.get_info()
        self.streams_active = 0
        self.totals = StreamStats()
        self._idle = threading.Condition(self.lock)

    @property
    def component_id(self) -> str:
        """The id events and registrations carry."""
        return self.factory.component_id

    def health(self) -> tuple[pb.HealthStatus, str, dict[str, str]]:
        """(HealthStatus, message, details) of the component, STOPPING while draining."""
        if self.draining.is_set():
            return pb.HEALTH_STATUS_STOPPING, "draining", {}
        if self.refused is not None:
            return pb.HEALTH_STATUS_UNHEALTHY, self.refused, {}
        with self.lock:
            try:
                status = self.service.health_check()
            except ProcessorErrorResult as exc:
                return pb.HEALTH_STATUS_UNHEALTHY, str(exc.error), {}
            except FlowctlHostError as exc:
                return pb.HEALTH_STATUS_UNHEALTHY, str(exc).splitlines()[0], {}
        return HEALTH[status.status], status.message or "", dict(status.details)

    def counters(self) -> dict[str, str]:
        """The host's counters as flowctl metrics (string map)."""
        with self.lock:
            s = self.totals
            return {
                "events_received": str(s.received), "events_ok": str(s.ok),
                "events_failed": str(s.failed), "events_emitted": str(s.outputs),
                "batches": str(s.batches), "streams_active": str(self.streams_active),
                "uptime_s": f"{time.monotonic() - self.started:.1f}",
            }  # fmt: skip

    def component_info(self) -> pb.ComponentInfo:
        """The ComponentInfo flowctl registers and GetInfo answers."""
        info = self.info
        return pb.ComponentInfo(
            id=self.component_id,
            name=info.name,
            description=info.description,
            version=info.version,
            type=pb.COMPONENT_TYPE_PROCESSOR,
            input_event_types=[codec.wire_type(e) for e in info.supported_event_types],
            output_event_types=[codec.wire_type(e) for e in info.output_event_types],
            endpoint=self.endpoint,
            metadata={
                "processor_name": info.name, "processor_version": info.version,
                "author": info.author, "host": "flowctl-host",
                "capabilities_required": ",".join(info.capabilities_required),
            },
        )  # fmt: skip

    def begin_stream(self) -> None:
        """A stream starts (refused while draining)."""
        with self.lock:
            self.streams_active += 1

    def end_stream(self, stats: StreamStats) -> None:
        """A stream ended: fold its counters into the totals."""
        with self.lock:
            self.streams_active -= 1
            total = self.totals
            total.received += stats.received
            total.ok += stats.ok
            total.failed += stats.failed
            total.outputs += stats.outputs
            total.batches += stats.batches
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no stream is active (True) or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.streams_active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


class ProcessorServicer(processor_pb2_grpc.ProcessorServiceServicer):
    """``flowctl.v1.ProcessorService``."""

    def __init__(self, state: HostState) -> None:
        self.state = state

    def GetInfo(self, request: Any, context: grpc.ServicerContext) -> pb.ComponentInfo:
        """The hosted component as flowctl sees it."""
        return self.state.component_info()

    def HealthCheck(
        self, request: pb.HealthCheckRequest, context: grpc.ServicerContext
    ) -> pb.HealthCheckResponse:
        """The component's health-check as a real HEALTH_STATUS_* value."""
        status, message, details = self.state.health()
        response = pb.HealthCheckResponse(status=status, message=message)
        response.metrics.update(self.state.counters())
        if request.include_details:
            response.components.append(
                pb.ComponentHealth(
                    component_name=self.state.info.name, status=status, message=message
                )
            )
            response.metrics.update({f"component.{k}": v for k, v in details.items()})
        return response

    def Process(
        self, request_iterator: Iterator[pb.Event], context: grpc.ServicerContext
    ) -> Iterator[pb.Event]:
        """One stream, on an instance of its own (see :mod:`reference_host.rpc.stream`)."""
        state = self.state
        if state.draining.is_set():
            context.abort(grpc.StatusCode.UNAVAILABLE, "the host is draining; no new streams")
        try:
            instance, _granted = state.factory.new()
        except (GuestError, FlowctlHostError) as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"cannot start an instance: {exc}")
        state.begin_stream()
        stream = StreamProcessor(
            instance, component_id=state.component_id, batch_size=state.batch_size,
            batch_timeout_s=state.batch_timeout_s, draining=state.draining,
            use_process_batch=state.use_process_batch, on_batch=state.on_batch,
        )  # fmt: skip
        try:
            yield from stream.run(request_iterator)
            context.set_trailing_metadata(
                (
                    ("flowctl-host-received", str(stream.stats.received)),
                    ("flowctl-host-failed", str(stream.stats.failed)),
                )
            )
            if stream.stats.drained:
                context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    f"the host is draining: the {stream.stats.received} events it read were "
                    "processed and answered; send the rest elsewhere",
                )
        finally:
            _shutdown(instance)
            state.end_stream(stream.stats)


def _shutdown(instance: ProcessorInstance) -> None:
    try:
        instance.shutdown()
    except FlowctlHostError:
        pass  # a trap in shutdown: the instance is closed anyway
    finally:
        instance.close()


# --------------------------------------------------------------------------- the extension


def _error(exc: ProcessorErrorResult) -> ext.ProcessorError:
    value = getattr(exc.error, "value", None)
    return ext.ProcessorError(case=str(exc.error.case), message="" if value is None else str(value))


def _failure(exc: FlowctlHostError) -> ext.Failure:
    return ext.Failure(kind=type(exc).__name__, message=str(exc).splitlines()[0][:2000])


class ExtensionServicer(extension_pb2_grpc.ProcessorExtensionServiceServicer):
    """``flowctl_host.v1.ProcessorExtensionService``, on one instance that starts uninitialized."""

    def __init__(self, state: HostState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._instance: ProcessorInstance | None = None
        self._granted: GrantedCapabilities | None = None

    def _get(self) -> ProcessorInstance:
        if self._instance is None:
            self._instance, self._granted = self.state.factory.new(initialize=False)
        return self._instance

    def _refusals(self) -> int:
        return self._granted.refusals() if self._granted is not None else 0

    def _call(self, call: Callable[[ProcessorInstance], Any]) -> tuple[Any, Any, Any, int]:
        """(value, ProcessorError, Failure, refusals): one of the first three is set."""
        with self._lock:
            instance = self._get()
            before = self._refusals()
            try:
                return call(instance), None, None, self._refusals() - before
            except ProcessorErrorResult as exc:
                return None, _error(exc), None, self._refusals() - before
            except FlowctlHostError as exc:
                return None, None, _failure(exc), self._refusals() - before

    def _result(self, call: Callable[[ProcessorInstance], Any]) -> ext.CallResult:
        _value, error, failure, refusals = self._call(call)
        if error is not None:
            return ext.CallResult(error=error, refusals=refusals)
        if failure is not None:
            return ext.CallResult(failure=failure, refusals=refusals)
        return ext.CallResult(ok=True, refusals=refusals)

    def _events(self, call: Callable[[ProcessorInstance], Any]) -> ext.EventsResult:
        value, error, failure, refusals = self._call(call)
        if error is not None:
            return ext.EventsResult(error=error, refusals=refusals)
        if failure is not None:
            return ext.EventsResult(failure=failure, refusals=refusals)
        return ext.EventsResult(events=[codec.encode(e) for e in value], refusals=refusals)

    def GetProcessorInfo(self, request: Any, context: grpc.ServicerContext) -> ext.ProcessorInfo:
        """WIT get-info."""
        info = self.state.info
        out = ext.ProcessorInfo(
            name=info.name, version=info.version, author=info.author,
            description=info.description,
            supported_event_types=[str(e) for e in info.supported_event_types],
            output_event_types=[str(e) for e in info.output_event_types],
            capabilities_required=list(info.capabilities_required),
        )  # fmt: skip
        if info.configuration_schema is not None:
            out.configuration_schema = info.configuration_schema
        return out

    def ValidateConfig(self, request: ext.ConfigRequest, context: Any) -> ext.CallResult:
        """WIT validate-config."""
        return self._result(lambda i: i.validate_config(request.config))

    def Initialize(self, request: ext.ConfigRequest, context: Any) -> ext.CallResult:
        """WIT initialize."""
        return self._result(lambda i: i.initialize(request.config))

    def HealthCheck(self, request: Any, context: Any) -> ext.HealthResult:
        """WIT health-check."""
        value, error, failure, _refusals = self._call(lambda i: i.health_check())
        if error is not None:
            return ext.HealthResult(error=error)
        if failure is not None:
            return ext.HealthResult(failure=failure)
        out = ext.HealthResult(status=str(value.status), timestamp=value.timestamp)
        out.details.update(dict(value.details))
        if value.message is not None:
            out.message = value.message
        return out

    def ProcessEvent(self, request: pb.Event, context: grpc.ServicerContext) -> ext.EventsResult:
        """WIT process-event (one event, answered as the component answers it)."""
        try:
            event = codec.decode(request)
        except codec.DecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._events(lambda i: i.process_event(event))

    def ProcessBatch(
        self, request: ext.ProcessBatchRequest, context: grpc.ServicerContext
    ) -> ext.EventsResult:
        """WIT process-batch."""
        try:
            events = [codec.decode(m) for m in request.events]
        except codec.DecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._events(lambda i: i.process_batch(events))

    def Shutdown(self, request: Any, context: Any) -> ext.CallResult:
        """WIT shutdown."""
        return self._result(lambda i: i.shutdown())

    def Inspect(self, request: Any, context: Any) -> ext.InspectResponse:
        """What the component imports and exports, the worlds it satisfies, its WIT drift."""
        report = self.state.factory.report
        return ext.InspectResponse(
            component_sha256=self.state.factory.loaded.sha256,
            imports=[i.name for i in report.imports], exports=list(report.exports),
            worlds=list(report.worlds), drift=list(report.drift),
            report_json=json.dumps(report.to_dict(), default=str),
        )  # fmt: skip

    def Reset(self, request: Any, context: Any) -> ext.CallResult:
        """Discard the extension instance; the next call opens a fresh, uninitialized one."""
        self.close()
        return ext.CallResult(ok=True)

    def close(self) -> None:
        """Shut the extension instance down."""
        with self._lock:
            if self._instance is not None:
                _shutdown(self._instance)
                self._instance = self._granted = None
