"""``flowctl-host serve``: the reference host as a flowctl.v1 gRPC processor.

Modules: :mod:`~reference_host.rpc.codec` (WIT event <-> flowctl.v1.Event),
:mod:`~reference_host.rpc.stream` (one Process stream: batching, order, error events, drain),
:mod:`~reference_host.rpc.servicer` (ProcessorService + our extension service),
:mod:`~reference_host.rpc.server` (gRPC server, health checking, reflection),
:mod:`~reference_host.rpc.control_plane` (registration and heartbeats with flowctl),
:mod:`~reference_host.rpc.health_http` (the SDK's HTTP endpoints),
:mod:`~reference_host.rpc.serve` (start to drain); generated code in ``gen/``
(``python proto/generate.py``).
"""
