"""``flowctl-host serve``: the command line of the gRPC processor service.

Reads the environment flowctl gives a process component -- ``PORT`` (``:50051``),
``HEALTH_PORT``, ``ENABLE_FLOWCTL``, ``FLOWCTL_ENDPOINT``, ``FLOWCTL_COMPONENT_ID`` /
``FLOWCTL_SERVICE_ID``, ``FLOWCTL_HEARTBEAT_INTERVAL`` -- and ``${VAR}`` references of the
pipeline YAML, resolves everything once into :class:`~reference_host.rpc.serve.ServeSettings`
and runs the service until SIGTERM/SIGINT.  Prints one line when it listens:
``flowctl-host serve: listening on HOST:PORT ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USAGE, EXIT_CONFIG = 0, 2, 3


def add_parser(sub: Any) -> None:
    """Register ``serve`` on the ``flowctl-host`` subcommand parser."""
    p = sub.add_parser(
        "serve",
        help="serve the component as a flowctl.v1 gRPC processor",
        description="Serve a processor component over gRPC with the flowctl.v1 contract "
        "(ProcessorService) plus the flowctl_host.v1 extension service (unless --no-extension), "
        "standard gRPC health "
        "checking and reflection; register with flowctl's control plane when ENABLE_FLOWCTL is "
        "set; HTTP /health /ready /live /metrics on --health-port (or HEALTH_PORT). SIGTERM "
        "drains in-flight work, shuts the component down and exits 0.",
    )
    p.add_argument("--pipeline", help="pipeline YAML (the design document's); ${VAR} expanded")
    p.add_argument(
        "--processor",
        help="the processor id in --pipeline (needed when it has "
        "several wasm-component processors; a processor block or policy file has one)",
    )
    p.add_argument("--component", help="the .wasm (default: the pipeline's component_file)")
    p.add_argument("--config", help="processor config JSON file (overrides the pipeline's)")
    p.add_argument("--port", help="gRPC port (default: PORT, else 50051; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--health-port", help="HTTP health port (default: HEALTH_PORT, else none)")
    p.add_argument("--advertise", help="endpoint to register (default HOST:PORT)")
    p.add_argument("--component-id", help="default: FLOWCTL_COMPONENT_ID, else the processor id")
    p.add_argument("--batch-timeout", type=float,
                   help="seconds a batch waits to fill up (default: the policy's batch_timeout, "
                   "100ms)")  # fmt: skip
    p.add_argument("--process-batch", action="store_true",
                   help="one process-batch call per batch (faster; the component's batch "
                   "semantics decide what a failing event yields) instead of one process-event "
                   "call per event")  # fmt: skip
    p.add_argument("--drain-timeout", type=float, default=30.0,
                   help="seconds SIGTERM waits for open streams (default 30)")  # fmt: skip
    p.add_argument(
        "--allow-refused-config",
        action="store_true",
        help="start even when initialize refuses the config: GetInfo and the "
        "extension service answer, HealthCheck is UNHEALTHY, Process streams are "
        "refused (for conformance runs, whose --launch tries many configs)",
    )
    p.add_argument(
        "--no-extension",
        action="store_true",
        help="serve flowctl.v1 alone, without the flowctl_host.v1 extension service (its "
        "lifecycle calls are control over the network; a conformance run then examines what "
        "flowctl.v1 allows: --remote-contract flowctl.v1)",
    )
    p.add_argument("--cache-dir", help="compile cache (default: ~/.cache/flowctl-conformance)")
    p.add_argument("--no-cache", action="store_true", help="compile without the cache")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """``flowctl-host serve``."""
    from reference_host.engine import default_cache_dir
    from reference_host.errors import GuestTrap, ProcessorErrorResult
    from reference_host.policy import Policy, load_policy
    from reference_host.rpc.control_plane import settings_from_env
    from reference_host.rpc.serve import (
        ServeSettings,
        Service,
        parse_port,
        run_until_signalled,
    )

    env = os.environ
    if args.pipeline:
        policy = load_policy(args.pipeline, args.processor, environ=env)
    else:
        policy = Policy.default_for(["logging", "metrics", "config"])
    component = args.component or policy.component_file
    if component is None:
        sys.stderr.write("flowctl-host serve: give --component X.wasm (or a pipeline with "
                         "component_file)\n")  # fmt: skip
        return EXIT_USAGE
    if args.config:
        policy = policy.updated({"processor_config": Path(args.config).read_text("utf-8")})
    try:
        port = parse_port(args.port if args.port is not None else env.get("PORT", "50051"))
        health = args.health_port if args.health_port is not None else env.get("HEALTH_PORT")
        health_port = parse_port(health) if health else None
    except ValueError as exc:
        sys.stderr.write(f"flowctl-host serve: {exc}\n")
        return EXIT_USAGE
    component_id = (
        args.component_id
        or env.get("FLOWCTL_COMPONENT_ID")
        or args.processor
        or Path(component).stem.replace("_", "-")
    )
    settings = ServeSettings(
        policy=policy, component=Path(component), component_id=component_id, host=args.host,
        port=port, health_port=health_port, advertise=args.advertise,
        batch_timeout_s=policy.batch_timeout if args.batch_timeout is None else args.batch_timeout,
        use_process_batch=args.process_batch, allow_refused_config=args.allow_refused_config,
        drain_timeout_s=args.drain_timeout, extension=not args.no_extension,
        cache_dir=None if args.no_cache else (
            Path(args.cache_dir) if args.cache_dir else default_cache_dir(env)
        ),
        control_plane=settings_from_env({"FLOWCTL_COMPONENT_ID": component_id, **env}),
    )  # fmt: skip
    try:
        service = Service(settings)
    except (ProcessorErrorResult, GuestTrap) as exc:
        sys.stderr.write(f"flowctl-host serve: the component refused its config: {exc}\n")
        return EXIT_CONFIG
    service.start()
    health_note = f", health on {args.host}:{service.http.port}" if service.http else ""
    cp = settings.control_plane
    cp_note = f", registering with {cp.endpoint} as {cp.component_id}" if cp else ""
    sys.stderr.write(
        f"flowctl-host serve: listening on {args.host}:{service.grpc.port}{health_note}{cp_note}\n"
    )
    sys.stderr.flush()
    return run_until_signalled(service)
