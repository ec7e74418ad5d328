import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ComponentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPONENT_TYPE_UNSPECIFIED: _ClassVar[ComponentType]
    COMPONENT_TYPE_SOURCE: _ClassVar[ComponentType]
    COMPONENT_TYPE_PROCESSOR: _ClassVar[ComponentType]
    COMPONENT_TYPE_CONSUMER: _ClassVar[ComponentType]

class HealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_UNKNOWN: _ClassVar[HealthStatus]
    HEALTH_STATUS_STARTING: _ClassVar[HealthStatus]
    HEALTH_STATUS_HEALTHY: _ClassVar[HealthStatus]
    HEALTH_STATUS_DEGRADED: _ClassVar[HealthStatus]
    HEALTH_STATUS_UNHEALTHY: _ClassVar[HealthStatus]
    HEALTH_STATUS_STOPPING: _ClassVar[HealthStatus]
COMPONENT_TYPE_UNSPECIFIED: ComponentType
COMPONENT_TYPE_SOURCE: ComponentType
COMPONENT_TYPE_PROCESSOR: ComponentType
COMPONENT_TYPE_CONSUMER: ComponentType
HEALTH_STATUS_UNKNOWN: HealthStatus
HEALTH_STATUS_STARTING: HealthStatus
HEALTH_STATUS_HEALTHY: HealthStatus
HEALTH_STATUS_DEGRADED: HealthStatus
HEALTH_STATUS_UNHEALTHY: HealthStatus
HEALTH_STATUS_STOPPING: HealthStatus

class Event(_message.Message):
    __slots__ = ("id", "type", "payload", "metadata", "timestamp", "source_component_id", "content_type", "stellar_cursor")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_COMPONENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STELLAR_CURSOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    payload: bytes
    metadata: _containers.ScalarMap[str, str]
    timestamp: _timestamp_pb2.Timestamp
    source_component_id: str
    content_type: str
    stellar_cursor: StellarCursor
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[bytes] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_component_id: _Optional[str] = ..., content_type: _Optional[str] = ..., stellar_cursor: _Optional[_Union[StellarCursor, _Mapping]] = ...) -> None: ...

class StellarCursor(_message.Message):
    __slots__ = ("ledger_sequence", "index_in_ledger")
    LEDGER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    INDEX_IN_LEDGER_FIELD_NUMBER: _ClassVar[int]
    ledger_sequence: int
    index_in_ledger: int
    def __init__(self, ledger_sequence: _Optional[int] = ..., index_in_ledger: _Optional[int] = ...) -> None: ...

class ComponentInfo(_message.Message):
    __slots__ = ("id", "name", "description", "version", "type", "input_event_types", "output_event_types", "endpoint", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    version: str
    type: ComponentType
    input_event_types: _containers.RepeatedScalarFieldContainer[str]
    output_event_types: _containers.RepeatedScalarFieldContainer[str]
    endpoint: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., type: _Optional[_Union[ComponentType, str]] = ..., input_event_types: _Optional[_Iterable[str]] = ..., output_event_types: _Optional[_Iterable[str]] = ..., endpoint: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ("include_details",)
    INCLUDE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    include_details: bool
    def __init__(self, include_details: _Optional[bool] = ...) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("status", "metrics", "components", "message")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: HealthStatus
    metrics: _containers.ScalarMap[str, str]
    components: _containers.RepeatedCompositeFieldContainer[ComponentHealth]
    message: str
    def __init__(self, status: _Optional[_Union[HealthStatus, str]] = ..., metrics: _Optional[_Mapping[str, str]] = ..., components: _Optional[_Iterable[_Union[ComponentHealth, _Mapping]]] = ..., message: _Optional[str] = ...) -> None: ...

class ComponentHealth(_message.Message):
    __slots__ = ("component_name", "status", "message")
    COMPONENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    component_name: str
    status: HealthStatus
    message: str
    def __init__(self, component_name: _Optional[str] = ..., status: _Optional[_Union[HealthStatus, str]] = ..., message: _Optional[str] = ...) -> None: ...
