"""The live platform the test scripts talk to, as the CHARTER_* variables that test/sdk-python.test.ts sets."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from charter_sdk import ClientCredentials


def credentials(now: Callable[[], float] | None = None) -> ClientCredentials:
    """Client credentials of the platform's development issuer (`now` replaces the clock, to test renewal)."""
    return ClientCredentials(
        os.environ["CHARTER_TOKEN_URL"],
        os.environ["CHARTER_CLIENT_ID"],
        os.environ["CHARTER_CLIENT_SECRET"],
        scopes=os.environ.get("CHARTER_SCOPES", "").split(),
        audience=os.environ.get("CHARTER_AUDIENCE") or None,
        now=now or time.time,
    )
