from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user_history import UserHistory
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    page_size: int | Unset = 50,
    page_token: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["pageSize"] = page_size

    params["pageToken"] = page_token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/users/{id}/history".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | UserHistory | None:
    if response.status_code == 200:
        response_200 = UserHistory.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = Problem.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | UserHistory]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: str | Unset = UNSET,
) -> Response[Problem | UserHistory]:
    """List a user's history

     Every change to the user, oldest first, as the audit service recorded it from the user
    events (`charter.users.v1.events`). A change appears here shortly after it is made, not in
    the same request. The history is kept after the user is deleted; an id with no recorded
    change has an empty history. Once a deleted user's personal data is erased (after the
    platform's retention), every event of the history keeps its skeleton (eventId, type, userId,
    version, occurredAt, actor), has no `user` and carries `redactedAt`.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        page_size (int | Unset):  Default: 50.
        page_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserHistory]
    """

    kwargs = _get_kwargs(
        id=id,
        page_size=page_size,
        page_token=page_token,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: str | Unset = UNSET,
) -> Problem | UserHistory | None:
    """List a user's history

     Every change to the user, oldest first, as the audit service recorded it from the user
    events (`charter.users.v1.events`). A change appears here shortly after it is made, not in
    the same request. The history is kept after the user is deleted; an id with no recorded
    change has an empty history. Once a deleted user's personal data is erased (after the
    platform's retention), every event of the history keeps its skeleton (eventId, type, userId,
    version, occurredAt, actor), has no `user` and carries `redactedAt`.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        page_size (int | Unset):  Default: 50.
        page_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserHistory
    """

    return sync_detailed(
        id=id,
        client=client,
        page_size=page_size,
        page_token=page_token,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: str | Unset = UNSET,
) -> Response[Problem | UserHistory]:
    """List a user's history

     Every change to the user, oldest first, as the audit service recorded it from the user
    events (`charter.users.v1.events`). A change appears here shortly after it is made, not in
    the same request. The history is kept after the user is deleted; an id with no recorded
    change has an empty history. Once a deleted user's personal data is erased (after the
    platform's retention), every event of the history keeps its skeleton (eventId, type, userId,
    version, occurredAt, actor), has no `user` and carries `redactedAt`.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        page_size (int | Unset):  Default: 50.
        page_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserHistory]
    """

    kwargs = _get_kwargs(
        id=id,
        page_size=page_size,
        page_token=page_token,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: str | Unset = UNSET,
) -> Problem | UserHistory | None:
    """List a user's history

     Every change to the user, oldest first, as the audit service recorded it from the user
    events (`charter.users.v1.events`). A change appears here shortly after it is made, not in
    the same request. The history is kept after the user is deleted; an id with no recorded
    change has an empty history. Once a deleted user's personal data is erased (after the
    platform's retention), every event of the history keeps its skeleton (eventId, type, userId,
    version, occurredAt, actor), has no `user` and carries `redactedAt`.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        page_size (int | Unset):  Default: 50.
        page_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserHistory
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            page_size=page_size,
            page_token=page_token,
        )
    ).parsed
