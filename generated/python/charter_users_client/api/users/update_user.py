from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.update_user_body import UpdateUserBody
from ...models.user import User
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: str,
    *,
    body: UpdateUserBody | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "patch",
        "url": "/v1/users/{id}".format(
            id=quote(str(id), safe=""),
        ),
    }

    if isinstance(body, UpdateUserBody):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/merge-patch+json"
    if isinstance(body, UpdateUserBody):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | User | None:
    if response.status_code == 200:
        response_200 = User.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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
) -> Response[Problem | User]:
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
    body: UpdateUserBody | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Response[Problem | User]:
    """Update a user

     Applies a JSON merge patch (RFC 7396) to the user. With `If-Match` the change
    applies only to that version; without it, to the latest.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        if_match (str | Unset):
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | User]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    body: UpdateUserBody | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Problem | User | None:
    """Update a user

     Applies a JSON merge patch (RFC 7396) to the user. With `If-Match` the change
    applies only to that version; without it, to the latest.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        if_match (str | Unset):
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | User
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    body: UpdateUserBody | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Response[Problem | User]:
    """Update a user

     Applies a JSON merge patch (RFC 7396) to the user. With `If-Match` the change
    applies only to that version; without it, to the latest.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        if_match (str | Unset):
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | User]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    body: UpdateUserBody | Unset = UNSET,
    if_match: str | Unset = UNSET,
) -> Problem | User | None:
    """Update a user

     Applies a JSON merge patch (RFC 7396) to the user. With `If-Match` the change
    applies only to that version; without it, to the latest.

    Args:
        id (str): A 64-bit snowflake id as a decimal string.
        if_match (str | Unset):
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.
        body (UpdateUserBody): A merge patch of the user's changeable fields; at least one.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | User
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
            if_match=if_match,
        )
    ).parsed
