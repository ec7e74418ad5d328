from google.protobuf import empty_pb2 as _empty_pb2
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ConsumeResponse(_message.Message):
    __slots__ = ("events_consumed", "events_failed", "errors")
    EVENTS_CONSUMED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    events_consumed: int
    events_failed: int
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, events_consumed: _Optional[int] = ..., events_failed: _Optional[int] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...
