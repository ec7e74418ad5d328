from google.protobuf import empty_pb2 as _empty_pb2
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
