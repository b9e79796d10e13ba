"""The users REST API over the generated client: typed models, problems raised as ProblemError, page iterators,
creates sent with an Idempotency-Key (so they are retried safely), If-Match on updates and deletes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from charter_users_client import AuthenticatedClient
from charter_users_client.api.stats import get_user_stats
from charter_users_client.api.users import (
    create_user,
    delete_user,
    get_user,
    list_user_history,
    list_users,
    lookup_user,
    update_user,
)
from charter_users_client.models.create_user_body import CreateUserBody
from charter_users_client.models.list_users_response import ListUsersResponse
from charter_users_client.models.lookup_user_body import LookupUserBody
from charter_users_client.models.update_user_body import UpdateUserBody
from charter_users_client.models.user import User
from charter_users_client.models.user_event import UserEvent
from charter_users_client.models.user_history import UserHistory
from charter_users_client.models.user_stats import UserStats
from charter_users_client.types import UNSET, Response

from .problem import ProblemError
from .retrying import RetryingTransport, RetryPolicy
from .tokens import BearerAuth, TokenSource

T = TypeVar("T")


@dataclass(frozen=True)
class Reply(Generic[T]):
    """A success: the HTTP status, the typed body and the ETag header as sent (quoted), if any."""

    status: int
    data: T
    etag: str | None


def entity_tag(etag: str) -> str:
    """The If-Match value for a user's `etag` field (`3` → `"3"`); an entity tag already quoted is kept."""
    return etag if etag.startswith('"') or etag.startswith('W/"') else f'"{etag}"'


def _raise_problems(response: httpx.Response) -> None:
    """Every error answer becomes a ProblemError here, before the generated client parses it: also one whose body
    is not a problem document (a proxy's page), which the generated client could not parse."""
    if response.status_code >= 400:
        response.read()
        raise ProblemError.from_response(response.status_code, response.content)


def _reply(response: Response[Any], success: int) -> Reply[Any]:
    if response.status_code != success:
        raise ProblemError.from_response(int(response.status_code), response.content)
    return Reply(int(response.status_code), response.parsed, response.headers.get("etag"))


class UsersClient:
    """One client per base URL (the gateway); `token` is a string or a function returning one
    (ClientCredentials). `retry=None` sends every request once."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        retry: RetryPolicy | None = RetryPolicy(),
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        inner = transport or httpx.HTTPTransport()
        self._client = AuthenticatedClient(
            base_url=base_url,
            token="",
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout),
            httpx_args={
                "auth": BearerAuth(token),
                "transport": RetryingTransport(retry, inner) if retry else inner,
                "event_hooks": {"response": [_raise_problems]},
            },
        )

    def close(self) -> None:
        self._client.get_httpx_client().close()

    def __enter__(self) -> UsersClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def create(self, name: str, email: str, *, idempotency_key: str | None = None) -> Reply[User]:
        """201 with the user. A key is made when none is given, so that a retry never creates a second user."""
        key = idempotency_key or str(uuid.uuid4())
        body = CreateUserBody(name=name, email=email)
        return _reply(create_user.sync_detailed(client=self._client, body=body, idempotency_key=key), 201)

    def get(self, id: str) -> Reply[User]:
        return _reply(get_user.sync_detailed(id, client=self._client), 200)

    def lookup(self, email: str) -> Reply[User]:
        """The user with this email, compared case-insensitively (sent in the body, never in the URL)."""
        return _reply(lookup_user.sync_detailed(client=self._client, body=LookupUserBody(email=email)), 200)

    def update(
        self, id: str, *, name: str | None = None, email: str | None = None, if_match: str | None = None
    ) -> Reply[User]:
        """A JSON merge patch of the fields given; with `if_match` (an etag) only that version changes, else 412."""
        patch = UpdateUserBody(name=UNSET if name is None else name, email=UNSET if email is None else email)
        match = UNSET if if_match is None else entity_tag(if_match)
        return _reply(update_user.sync_detailed(id, client=self._client, body=patch, if_match=match), 200)

    def delete(self, id: str, *, if_match: str | None = None) -> Reply[None]:
        match = UNSET if if_match is None else entity_tag(if_match)
        reply = _reply(delete_user.sync_detailed(id, client=self._client, if_match=match), 204)
        return Reply(reply.status, None, reply.etag)

    def list(self, *, page_size: int | None = None, page_token: str | None = None) -> Reply[ListUsersResponse]:
        return _reply(
            list_users.sync_detailed(
                client=self._client,
                page_size=UNSET if page_size is None else page_size,
                page_token=UNSET if page_token is None else page_token,
            ),
            200,
        )

    def list_all(self, *, page_size: int | None = None) -> Iterator[User]:
        """Every user, walking the page tokens; a problem on any page is raised as ProblemError."""
        return _walk(lambda token: self.list(page_size=page_size, page_token=token).data, lambda page: page.users)

    def history(
        self, id: str, *, page_size: int | None = None, page_token: str | None = None
    ) -> Reply[UserHistory]:
        """One page of a user's history, oldest event first. An id with no recorded change has an empty history (not a
        404), and the history stays after the user is deleted."""
        return _reply(
            list_user_history.sync_detailed(
                id,
                client=self._client,
                page_size=UNSET if page_size is None else page_size,
                page_token=UNSET if page_token is None else page_token,
            ),
            200,
        )

    def history_all(self, id: str, *, page_size: int | None = None) -> Iterator[UserEvent]:
        """Every event of a user's history, oldest first, walking the page tokens."""
        return _walk(
            lambda token: self.history(id, page_size=page_size, page_token=token).data, lambda page: page.events
        )

    def stats(self) -> Reply[UserStats]:
        """The counts of the latest one-minute window the stats pipeline published; while none has been received (no
        pipeline runs), a ProblemError with status 503 and code UNAVAILABLE."""
        return _reply(get_user_stats.sync_detailed(client=self._client), 200)


P = TypeVar("P")


def _walk(fetch: Callable[[str | None], P], items: Callable[[P], list[T]]) -> Iterator[T]:
    """The items of every page, following `next_page_token` until a page has none."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from items(page)
        token = getattr(page, "next_page_token", None) or None
        if not token:
            return
