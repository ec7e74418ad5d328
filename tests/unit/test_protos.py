"""The .proto sources and their generated code: current, and wire-compatible with flowctl.v1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.message import Message

from reference_host.rpc.gen.flowctl.v1 import common_pb2, control_plane_pb2, processor_pb2
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_generated_code_is_current() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def _fields(message: type[Message]) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        (common_pb2.Event, {"id": 1, "type": 2, "payload": 3, "metadata": 4, "timestamp": 5,
                            "source_component_id": 6, "content_type": 7, "stellar_cursor": 8}),
        (common_pb2.StellarCursor, {"ledger_sequence": 1, "index_in_ledger": 2}),
        (common_pb2.ComponentInfo, {"id": 1, "name": 2, "description": 3, "version": 4,
                                    "type": 5, "input_event_types": 6, "output_event_types": 7,
                                    "endpoint": 8, "metadata": 9}),
        (common_pb2.HealthCheckResponse, {"status": 1, "metrics": 2, "components": 3,
                                          "message": 4}),
        (control_plane_pb2.RegisterRequest, {"component": 1, "component_id": 2}),
        (control_plane_pb2.HeartbeatRequest, {"service_id": 1, "status": 2, "metrics": 3}),
        (control_plane_pb2.ListComponentsRequest, {"type_filter": 1, "include_unhealthy": 2}),
    ],
)  # fmt: skip
def test_messages_have_flowctls_names_and_field_numbers(
    message: type[Message], fields: dict[str, int]
) -> None:
    assert message.DESCRIPTOR.full_name.startswith("flowctl.v1.")
    assert _fields(message) == fields


def test_services_and_enums_are_flowctls() -> None:
    processor = processor_pb2.DESCRIPTOR.services_by_name["ProcessorService"]
    assert processor.full_name == "flowctl.v1.ProcessorService"
    methods = {m.name: (m.client_streaming, m.server_streaming) for m in processor.methods}
    assert methods == {"GetInfo": (False, False), "HealthCheck": (False, False),
                       "Process": (True, True)}  # fmt: skip
    control = control_plane_pb2.DESCRIPTOR.services_by_name["ControlPlaneService"]
    assert {m.name for m in control.methods} == {
        "RegisterComponent", "UnregisterComponent", "DiscoverComponents", "Heartbeat",
        "GetComponentStatus", "ListComponents",
    }  # fmt: skip
    assert common_pb2.HEALTH_STATUS_HEALTHY == 2 and common_pb2.HEALTH_STATUS_STOPPING == 5
    assert common_pb2.COMPONENT_TYPE_PROCESSOR == 2
    # our extension lives in a package of its own, never in flowctl.v1
    ext = extension_pb2.DESCRIPTOR.services_by_name["ProcessorExtensionService"]
    assert ext.full_name == "flowctl_host.v1.ProcessorExtensionService"
