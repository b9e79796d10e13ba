from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
FIELD_FIELD_NUMBER: _ClassVar[int]
field: _descriptor.FieldDescriptor

class FieldRules(_message.Message):
    __slots__ = ("required", "output_only", "min_len", "max_len", "pattern", "format", "minimum", "maximum", "max_items", "default_value", "pattern_message")
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ONLY_FIELD_NUMBER: _ClassVar[int]
    MIN_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_LEN_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    PATTERN_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    required: bool
    output_only: bool
    min_len: int
    max_len: int
    pattern: str
    format: str
    minimum: int
    maximum: int
    max_items: int
    default_value: int
    pattern_message: str
    def __init__(self, required: _Optional[bool] = ..., output_only: _Optional[bool] = ..., min_len: _Optional[int] = ..., max_len: _Optional[int] = ..., pattern: _Optional[str] = ..., format: _Optional[str] = ..., minimum: _Optional[int] = ..., maximum: _Optional[int] = ..., max_items: _Optional[int] = ..., default_value: _Optional[int] = ..., pattern_message: _Optional[str] = ...) -> None: ...
