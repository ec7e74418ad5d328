from reference_host.rpc.gen.flowctl.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProcessorError(_message.Message):
    __slots__ = ("case", "message")
    CASE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    case: str
    message: str
    def __init__(self, case: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("kind", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CallResult(_message.Message):
    __slots__ = ("ok", "error", "failure", "refusals")
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    error: ProcessorError
    failure: Failure
    refusals: int
    def __init__(self, ok: _Optional[bool] = ..., error: _Optional[_Union[ProcessorError, _Mapping]] = ..., failure: _Optional[_Union[Failure, _Mapping]] = ..., refusals: _Optional[int] = ...) -> None: ...

class EventsResult(_message.Message):
    __slots__ = ("events", "error", "failure", "refusals")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.Event]
    error: ProcessorError
    failure: Failure
    refusals: int
    def __init__(self, events: _Optional[_Iterable[_Union[_common_pb2.Event, _Mapping]]] = ..., error: _Optional[_Union[ProcessorError, _Mapping]] = ..., failure: _Optional[_Union[Failure, _Mapping]] = ..., refusals: _Optional[int] = ...) -> None: ...

class GetProcessorInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProcessorInfo(_message.Message):
    __slots__ = ("name", "version", "author", "description", "supported_event_types", "output_event_types", "capabilities_required", "configuration_schema")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    author: str
    description: str
    supported_event_types: _containers.RepeatedScalarFieldContainer[str]
    output_event_types: _containers.RepeatedScalarFieldContainer[str]
    capabilities_required: _containers.RepeatedScalarFieldContainer[str]
    configuration_schema: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., author: _Optional[str] = ..., description: _Optional[str] = ..., supported_event_types: _Optional[_Iterable[str]] = ..., output_event_types: _Optional[_Iterable[str]] = ..., capabilities_required: _Optional[_Iterable[str]] = ..., configuration_schema: _Optional[str] = ...) -> None: ...

class ConfigRequest(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: str
    def __init__(self, config: _Optional[str] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResult(_message.Message):
    __slots__ = ("status", "message", "details", "timestamp", "error", "failure")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    status: str
    message: str
    details: _containers.ScalarMap[str, str]
    timestamp: int
    error: ProcessorError
    failure: Failure
    def __init__(self, status: _Optional[str] = ..., message: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[int] = ..., error: _Optional[_Union[ProcessorError, _Mapping]] = ..., failure: _Optional[_Union[Failure, _Mapping]] = ...) -> None: ...

class ProcessBatchRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_common_pb2.Event, _Mapping]]] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InspectRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InspectResponse(_message.Message):
    __slots__ = ("component_sha256", "imports", "exports", "worlds", "drift", "report_json")
    COMPONENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    IMPORTS_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    WORLDS_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    component_sha256: str
    imports: _containers.RepeatedScalarFieldContainer[str]
    exports: _containers.RepeatedScalarFieldContainer[str]
    worlds: _containers.RepeatedScalarFieldContainer[str]
    drift: _containers.RepeatedScalarFieldContainer[str]
    report_json: str
    def __init__(self, component_sha256: _Optional[str] = ..., imports: _Optional[_Iterable[str]] = ..., exports: _Optional[_Iterable[str]] = ..., worlds: _Optional[_Iterable[str]] = ..., drift: _Optional[_Iterable[str]] = ..., report_json: _Optional[str] = ...) -> None: ...
