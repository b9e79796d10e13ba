import datetime

from charter.contract.v1 import field_pb2 as _field_pb2
from charter.users.v1 import users_pb2 as _users_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USER_EVENT_TYPE_UNSPECIFIED: _ClassVar[UserEventType]
    USER_EVENT_TYPE_CREATED: _ClassVar[UserEventType]
    USER_EVENT_TYPE_UPDATED: _ClassVar[UserEventType]
    USER_EVENT_TYPE_DELETED: _ClassVar[UserEventType]
USER_EVENT_TYPE_UNSPECIFIED: UserEventType
USER_EVENT_TYPE_CREATED: UserEventType
USER_EVENT_TYPE_UPDATED: UserEventType
USER_EVENT_TYPE_DELETED: UserEventType

class UserEvent(_message.Message):
    __slots__ = ("event_id", "type", "user_id", "user", "version", "occurred_at", "actor", "redacted_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REDACTED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: UserEventType
    user_id: str
    user: _users_pb2.User
    version: int
    occurred_at: _timestamp_pb2.Timestamp
    actor: str
    redacted_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[_Union[UserEventType, str]] = ..., user_id: _Optional[str] = ..., user: _Optional[_Union[_users_pb2.User, _Mapping]] = ..., version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., redacted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
