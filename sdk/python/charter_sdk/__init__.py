"""Charter's Python SDK: the users REST API (UsersClient) and, with the `grpc` extra, its gRPC stubs (charter_sdk.grpc)."""

from charter_users_client.models.list_users_response import ListUsersResponse
from charter_users_client.models.user import User
from charter_users_client.models.user_event import UserEvent
from charter_users_client.models.user_history import UserHistory
from charter_users_client.models.user_stats import UserStats

from .problem import ProblemError
from .retrying import RetryingTransport, RetryPolicy
from .tokens import BearerAuth, ClientCredentials, TokenRequestError, TokenSource
from .users import Reply, UsersClient, entity_tag

__all__ = [
    "BearerAuth",
    "ClientCredentials",
    "ListUsersResponse",
    "ProblemError",
    "Reply",
    "RetryPolicy",
    "RetryingTransport",
    "TokenRequestError",
    "TokenSource",
    "User",
    "UserEvent",
    "UserHistory",
    "UserStats",
    "UsersClient",
    "entity_tag",
]
