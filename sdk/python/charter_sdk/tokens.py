"""Bearer tokens: a fixed one, a function, or the client-credentials grant with caching and refresh."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence

import httpx


class TokenRequestError(Exception):
    """The token endpoint refused: its HTTP status and OAuth `error` code (never the secret)."""

    def __init__(self, status: int, error: str | None, description: str | None) -> None:
        self.status = status
        self.error = error
        super().__init__(f"token request refused ({status} {error or 'unknown'}): {description or ''}".strip())


class ClientCredentials:
    """Calls as a token source: asks the endpoint once, keeps the token, asks again shortly before it expires
    (when less than 30 s, or 10 % of a lifetime under five minutes, is left). Thread-safe: concurrent callers
    share one request."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = (),
        audience: str | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._token_url = token_url
        self._auth = (client_id, client_secret)
        self._scopes = list(scopes)
        self._audience = audience
        self._now = now
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._token is not None and self._now() < self._refresh_at:
                return self._token
            form = {"grant_type": "client_credentials"}
            if self._scopes:
                form["scope"] = " ".join(self._scopes)
            if self._audience:
                form["resource"] = self._audience
            response = httpx.post(self._token_url, data=form, auth=self._auth)
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            if response.status_code != 200 or "access_token" not in body:
                raise TokenRequestError(response.status_code, body.get("error"), body.get("error_description"))
            lifetime = float(body.get("expires_in", 300))
            margin = lifetime * 0.1 if lifetime < 300 else 30.0
            self._token = str(body["access_token"])
            self._refresh_at = self._now() + lifetime - margin
            return self._token


TokenSource = str | Callable[[], str]


class BearerAuth(httpx.Auth):
    """Sends `Authorization: Bearer <token>` with every request (every retry), asking a function each time."""

    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token if isinstance(self._token, str) else self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request
