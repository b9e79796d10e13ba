"""Contains all the data models used in inputs/outputs"""

from .create_user_body import CreateUserBody
from .error_code import ErrorCode
from .field_error import FieldError
from .list_users_response import ListUsersResponse
from .lookup_user_body import LookupUserBody
from .problem import Problem
from .update_user_body import UpdateUserBody
from .user import User
from .user_event import UserEvent
from .user_event_type import UserEventType
from .user_history import UserHistory
from .user_stats import UserStats

__all__ = (
    "CreateUserBody",
    "ErrorCode",
    "FieldError",
    "ListUsersResponse",
    "LookupUserBody",
    "Problem",
    "UpdateUserBody",
    "User",
    "UserEvent",
    "UserEventType",
    "UserHistory",
    "UserStats",
)
