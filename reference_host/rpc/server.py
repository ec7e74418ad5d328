"""The gRPC server of ``flowctl-host serve``: the servicers, standard health checking, reflection.

Message limits match flowctl's clients (50 MB each way, not gRPC's 4 MB default).  The standard
``grpc.health.v1.Health`` service reports ``SERVING`` for ``""``,
``flowctl.v1.ProcessorService`` and ``flowctl_host.v1.ProcessorExtensionService`` while the
component is healthy (``NOT_SERVING`` while draining or unhealthy); reflection lists every
service.  ``extension=False`` serves flowctl.v1 alone (``serve --no-extension``): the extension's
lifecycle calls are control over the network that a production host may not want to offer.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb
from reference_host.rpc.gen.flowctl.v1 import processor_pb2
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2, extension_pb2_grpc
from reference_host.rpc.servicer import ExtensionServicer, HostState, ProcessorServicer
from reference_host.rpc.stream import parse_event

MAX_MESSAGE = 50 * 1024 * 1024
PROCESSOR = processor_pb2.DESCRIPTOR.services_by_name["ProcessorService"].full_name
EXTENSION = extension_pb2.DESCRIPTOR.services_by_name["ProcessorExtensionService"].full_name
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]


def _processor_handlers(servicer: ProcessorServicer) -> grpc.GenericRpcHandler:
    """``flowctl.v1.ProcessorService`` with a lenient ``Process`` deserializer.

    The generated registration parses each request with ``Event.FromString``: a message that does
    not parse (invalid UTF-8 in a string field) fails the whole stream with INTERNAL "Exception
    deserializing request!".  Here it reaches the stream as :class:`~reference_host.rpc.stream.
    Undecodable` and is answered by a decode error event in its place; the stream goes on.
    """
    from google.protobuf import empty_pb2

    handlers = {
        "GetInfo": grpc.unary_unary_rpc_method_handler(
            servicer.GetInfo, request_deserializer=empty_pb2.Empty.FromString,
            response_serializer=pb.ComponentInfo.SerializeToString,
        ),
        "HealthCheck": grpc.unary_unary_rpc_method_handler(
            servicer.HealthCheck, request_deserializer=pb.HealthCheckRequest.FromString,
            response_serializer=pb.HealthCheckResponse.SerializeToString,
        ),
        "Process": grpc.stream_stream_rpc_method_handler(
            servicer.Process, request_deserializer=parse_event,
            response_serializer=pb.Event.SerializeToString,
        ),
    }  # fmt: skip
    return grpc.method_handlers_generic_handler(PROCESSOR, handlers)


class HostServer:
    """A started gRPC server around :class:`HostState`; :meth:`stop` ends it."""

    def __init__(
        self, state: HostState, host: str, port: int, *, workers: int = 16, extension: bool = True
    ) -> None:
        self.state = state
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=OPTIONS)
        self.extension: ExtensionServicer | None = ExtensionServicer(state) if extension else None
        self.server.add_generic_rpc_handlers((_processor_handlers(ProcessorServicer(state)),))
        if self.extension is not None:
            extension_pb2_grpc.add_ProcessorExtensionServiceServicer_to_server(  # type: ignore[no-untyped-call]
                self.extension, self.server
            )
        self.services = (PROCESSOR, EXTENSION) if extension else (PROCESSOR,)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*self.services, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {host}:{port}")
        self.host = host
        self.refresh_health()

    def start(self) -> HostServer:
        """Start serving."""
        self.server.start()
        return self

    def refresh_health(self) -> pb.HealthStatus:
        """Set the standard health service from the component's health; return the status."""
        status, _message, _details = self.state.health()
        serving = (
            health_pb2.HealthCheckResponse.SERVING
            if status in (pb.HEALTH_STATUS_HEALTHY, pb.HEALTH_STATUS_DEGRADED)
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.services):
            self.health.set(name, serving)
        return status

    def stop(self, grace: float) -> None:
        """Stop taking calls, give running ones ``grace`` seconds, close the extension instance."""
        self.server.stop(grace).wait(grace + 1)
        if self.extension is not None:
            self.extension.close()
