"""Sends a request again after a 502, 503 or 504 or a network error, only when sending it twice is safe."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx

RETRIED_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts in all, and the exponential backoff with full jitter between them (seconds)."""

    attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 1.0


def is_safe_to_repeat(request: httpx.Request) -> bool:
    """A GET, or a write that applies once whatever the number of sends: with an Idempotency-Key or an If-Match."""
    return request.method in ("GET", "HEAD") or "idempotency-key" in request.headers or "if-match" in request.headers


class RetryingTransport(httpx.BaseTransport):
    def __init__(self, policy: RetryPolicy = RetryPolicy(), inner: httpx.BaseTransport | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpx.HTTPTransport()

    def _delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt; None when the server's Retry-After is longer than we wait."""
        if response is not None and "retry-after" in response.headers:
            try:
                after = float(response.headers["retry-after"])
            except ValueError:
                after = None
            if after is not None:
                return after if after <= self._policy.max_delay else None
        return random.uniform(0, min(self._policy.max_delay, self._policy.base_delay * 2**attempt))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempts = self._policy.attempts if is_safe_to_repeat(request) else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError:
                if last:
                    raise
                delay = self._delay(attempt, None)
            else:
                if last or response.status_code not in RETRIED_STATUSES:
                    return response
                delay = self._delay(attempt, response)
                if delay is None:
                    return response
                response.read()
                response.close()
            time.sleep(delay or 0)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._inner.close()
