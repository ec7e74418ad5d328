"""The flowctl.v1-alone contract of the remote mode: which checks it decides, how error events
become typed answers (no gRPC server needed: the pure parts of ``conformance.remote``)."""

from __future__ import annotations

import json

import pytest

from conformance.checks import CHECKS
from conformance.remote import FLOWCTL_V1_CHECKS, LOCAL_ONLY, RemoteTarget, _error_answer
from reference_host import errors
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb
from reference_host.rpc.stream import ERROR_TYPE


def _error_event(error: object) -> pb.Event:
    payload = json.dumps({"input_id": "e1", "stage": "process", "error": error}).encode()
    return pb.Event(id="e1/error", type=ERROR_TYPE, payload=payload)


def test_every_check_is_decided_not_applicable_or_not_assessed_over_flowctl_v1() -> None:
    target = RemoteTarget(launch="h {port}", contract="flowctl.v1")
    assert target.flowctl_v1_only
    for check in CHECKS:
        na, unseen = target.not_applicable(check.id), target.not_assessed(check.id)
        if check.id in LOCAL_ONLY:
            assert na is not None
        elif check.id in FLOWCTL_V1_CHECKS:
            assert na is None and unseen is None, check.id
        else:
            assert unseen is not None and unseen.startswith("over flowctl.v1 alone"), check.id


def test_the_extension_contract_assesses_everything_it_can_reach() -> None:
    target = RemoteTarget(launch="h {port}")
    assert not target.flowctl_v1_only
    assert all(target.not_assessed(c.id) is None for c in CHECKS)
    assert target.describe()["contract"] == "extension"


@pytest.mark.parametrize(
    ("error", "cls", "text"),
    [
        ({"kind": "processor-error", "case": "invalid-event", "message": "bad"},
         errors.ProcessorErrorResult, "invalid-event"),
        ({"kind": "trap", "trap": "OutOfFuelError", "message": "process-event: out of fuel"},
         errors.OutOfFuelError, "out of fuel"),
        ({"kind": "trap", "trap": "SomethingNew", "message": "x"}, errors.GuestTrap, "kind trap"),
        ({"kind": "processor-error", "case": "no-such-case", "message": "x"}, errors.GuestTrap,
         "kind processor-error"),
        ({"kind": "host", "message": "instance recycling failed"}, errors.GuestTrap,
         "instance recycling failed"),
    ],
)  # fmt: skip
def test_error_events_become_the_typed_answer_they_name(
    error: dict[str, str], cls: type[Exception], text: str
) -> None:
    got = _error_answer("process-event", _error_event(error))
    assert type(got) is cls
    assert text in str(got)


def test_an_error_event_without_its_body_is_a_trap() -> None:
    message = pb.Event(id="e1/error", type=ERROR_TYPE, payload=b"not json")
    got = _error_answer("process-event", message)
    assert isinstance(got, errors.GuestTrap) and "did not fill in" in str(got)
