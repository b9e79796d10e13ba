from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user_stats import UserStats
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/stats/users",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | UserStats | None:
    if response.status_code == 200:
        response_200 = UserStats.from_dict(response.json())

        return response_200

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
) -> Response[Problem | UserStats]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[Problem | UserStats]:
    """Get the latest user stats

     The counts of the latest one-minute window of event time that the user-stats streaming job
    has published on `charter.users.v1.stats` (the window with the greatest `windowStart`, in
    its last version: a late firing within the job's allowed lateness updates a window):
    users created, updated and deleted in it, users live at its end, and the events dropped as
    too late since the job first started. The audit service reads the channel; a new window
    appears here shortly after the job publishes it.

    503 (UNAVAILABLE) with the detail "the stats pipeline is not running" while no stats have
    been received: always on embedded defaults (`npm start` without `KAFKA_BROKERS`, where no
    streaming job runs), and on a platform whose job has not published yet. Retry after
    `Retry-After` seconds. A 503 whose detail names the audit service means that service
    cannot be reached.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserStats]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
) -> Problem | UserStats | None:
    """Get the latest user stats

     The counts of the latest one-minute window of event time that the user-stats streaming job
    has published on `charter.users.v1.stats` (the window with the greatest `windowStart`, in
    its last version: a late firing within the job's allowed lateness updates a window):
    users created, updated and deleted in it, users live at its end, and the events dropped as
    too late since the job first started. The audit service reads the channel; a new window
    appears here shortly after the job publishes it.

    503 (UNAVAILABLE) with the detail "the stats pipeline is not running" while no stats have
    been received: always on embedded defaults (`npm start` without `KAFKA_BROKERS`, where no
    streaming job runs), and on a platform whose job has not published yet. Retry after
    `Retry-After` seconds. A 503 whose detail names the audit service means that service
    cannot be reached.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserStats
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[Problem | UserStats]:
    """Get the latest user stats

     The counts of the latest one-minute window of event time that the user-stats streaming job
    has published on `charter.users.v1.stats` (the window with the greatest `windowStart`, in
    its last version: a late firing within the job's allowed lateness updates a window):
    users created, updated and deleted in it, users live at its end, and the events dropped as
    too late since the job first started. The audit service reads the channel; a new window
    appears here shortly after the job publishes it.

    503 (UNAVAILABLE) with the detail "the stats pipeline is not running" while no stats have
    been received: always on embedded defaults (`npm start` without `KAFKA_BROKERS`, where no
    streaming job runs), and on a platform whose job has not published yet. Retry after
    `Retry-After` seconds. A 503 whose detail names the audit service means that service
    cannot be reached.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserStats]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
) -> Problem | UserStats | None:
    """Get the latest user stats

     The counts of the latest one-minute window of event time that the user-stats streaming job
    has published on `charter.users.v1.stats` (the window with the greatest `windowStart`, in
    its last version: a late firing within the job's allowed lateness updates a window):
    users created, updated and deleted in it, users live at its end, and the events dropped as
    too late since the job first started. The audit service reads the channel; a new window
    appears here shortly after the job publishes it.

    503 (UNAVAILABLE) with the detail "the stats pipeline is not running" while no stats have
    been received: always on embedded defaults (`npm start` without `KAFKA_BROKERS`, where no
    streaming job runs), and on a platform whose job has not published yet. Retry after
    `Retry-After` seconds. A 503 whose detail names the audit service means that service
    cannot be reached.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserStats
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
