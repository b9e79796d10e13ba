"""What the scenario list cannot show, with the installed SDK against the live gateway (the CHARTER_* variables of
run_scenarios.py): a create whose answer is lost on the way back is sent again with the same Idempotency-Key and
makes one user; an update without If-Match is sent once; the client-credentials token is kept, then renewed near
its expiry; history and stats come back typed or as the contract's problem. The network in between is the real one, except that the first answer of a chosen request is replaced
by a 503, as a proxy with no healthy instance would answer. Prints one JSON document."""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Any

import httpx
from charter_sdk import ProblemError, RetryPolicy, UsersClient
from live_env import credentials


class LoseFirstAnswer(httpx.BaseTransport):
    """Passes requests to the real transport and records them; the first one matching `method` gets a 503 instead of
    its answer, after (`forward=True`) or without reaching the server."""

    def __init__(self, method: str, forward: bool) -> None:
        self._inner = httpx.HTTPTransport()
        self._method = method
        self._forward = forward
        self.sent: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append({"method": request.method, "idempotencyKey": request.headers.get("idempotency-key")})
        lose = request.method == self._method and sum(s["method"] == self._method for s in self.sent) == 1
        if lose and not self._forward:
            return httpx.Response(503, text="no healthy upstream", request=request)
        response = self._inner.handle_request(request)
        if lose:
            response.read()
            response.close()
            return httpx.Response(503, text="no healthy upstream", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


def main() -> int:
    base_url = os.environ["CHARTER_BASE_URL"]
    clock = [1_000_000.0]
    token = credentials(now=lambda: clock[0])
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
    email = f"retried.{secrets.token_hex(4)}@example.com"

    lossy = LoseFirstAnswer("POST", forward=True)
    with UsersClient(base_url, token, retry=retry, transport=lossy) as users:
        created = users.create("Retried Create", email)
        found = users.lookup(email)
    create = {
        "status": created.status,
        "sends": [s for s in lossy.sent if s["method"] == "POST"][:2],
        "createdId": created.data.id,
        "foundId": found.data.id,
    }

    refused = LoseFirstAnswer("PATCH", forward=False)
    with UsersClient(base_url, token, retry=retry, transport=refused) as users:
        try:
            users.update(created.data.id, name="Not retried")
            update: dict[str, Any] = {"raised": False}
        except ProblemError as error:
            update = {"raised": True, "status": error.status, "code": error.code}
        update["patches"] = sum(s["method"] == "PATCH" for s in refused.sent)
        with_etag = users.update(created.data.id, name="Retried with If-Match", if_match=created.data.etag)
        update["withIfMatch"] = {"status": with_etag.status, "name": with_etag.data.name}
        update["patchesAfter"] = sum(s["method"] == "PATCH" for s in refused.sent)

    first = token()
    again = token()
    clock[0] += 3600.0  # past any token's lifetime
    renewed = token()
    tokens = {"kept": first == again, "renewed": renewed != first}

    # History and stats come from services this platform may not run: whatever it answers, the SDK gives either the
    # typed page or the contract's problem.
    served: dict[str, Any] = {}
    with UsersClient(base_url, token, retry=None) as users:
        calls = {"history": lambda: users.history(created.data.id), "stats": users.stats}
        for name, call in calls.items():
            try:
                reply = call()
                served[name] = {"raised": False, "status": reply.status, "type": type(reply.data).__name__}
            except ProblemError as error:
                served[name] = {"raised": True, "status": error.status, "code": error.code}

    print(json.dumps({"create": create, "update": update, "tokens": tokens, "served": served}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
