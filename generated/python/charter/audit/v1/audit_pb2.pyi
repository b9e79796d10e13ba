import datetime

from charter.contract.v1 import field_pb2 as _field_pb2
from charter.contract.v1 import method_pb2 as _method_pb2
from charter.users.v1 import events_pb2 as _events_pb2
from charter.users.v1 import stats_pb2 as _stats_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListUserHistoryRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUserHistoryResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.UserEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.UserEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EraseUserHistoryRequest(_message.Message):
    __slots__ = ("user_id", "erase_after")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ERASE_AFTER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    erase_after: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., erase_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EraseUserHistoryResponse(_message.Message):
    __slots__ = ("erased_events", "pending")
    ERASED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    erased_events: int
    pending: bool
    def __init__(self, erased_events: _Optional[int] = ..., pending: _Optional[bool] = ...) -> None: ...

class GetUserStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetUserStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _stats_pb2.UserStats
    def __init__(self, stats: _Optional[_Union[_stats_pb2.UserStats, _Mapping]] = ...) -> None: ...
