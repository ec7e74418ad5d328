from google.protobuf import empty_pb2 as _empty_pb2
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class StreamRequest(_message.Message):
    __slots__ = ("params", "resume", "resume_token")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    params: _containers.ScalarMap[str, str]
    resume: bool
    resume_token: str
    def __init__(self, params: _Optional[_Mapping[str, str]] = ..., resume: _Optional[bool] = ..., resume_token: _Optional[str] = ...) -> None: ...

class StateRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class StateResponse(_message.Message):
    __slots__ = ("state", "resume_token", "last_updated_unix")
    class StateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    state: _containers.ScalarMap[str, str]
    resume_token: str
    last_updated_unix: int
    def __init__(self, state: _Optional[_Mapping[str, str]] = ..., resume_token: _Optional[str] = ..., last_updated_unix: _Optional[int] = ...) -> None: ...

class SaveStateRequest(_message.Message):
    __slots__ = ("state", "key")
    class StateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    state: _containers.ScalarMap[str, str]
    key: str
    def __init__(self, state: _Optional[_Mapping[str, str]] = ..., key: _Optional[str] = ...) -> None: ...
