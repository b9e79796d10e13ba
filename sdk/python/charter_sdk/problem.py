"""The contract's problem (RFC 9457) as an exception."""

from __future__ import annotations

import json

from charter_users_client.models.problem import Problem
from charter_users_client.types import Unset


class ProblemError(Exception):
    """An error answer of the API: `status`, `code`, `detail`, `fields` (the invalid fields' JSON pointers)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.status: int = problem.status
        self.code: str = problem.code.value
        self.detail: str | None = None if isinstance(problem.detail, Unset) else problem.detail
        errors = [] if isinstance(problem.errors, Unset) else problem.errors
        self.fields: list[str] = [error.field for error in errors]
        super().__init__(f"{self.status} {self.code}: {self.detail or problem.title}")

    @classmethod
    def from_response(cls, status: int, body: bytes) -> ProblemError:
        """The problem in an error answer's body; a body that is not one (a proxy's page) becomes an UNKNOWN problem."""
        try:
            document = json.loads(body)
            return cls(Problem.from_dict(document))
        except (ValueError, KeyError, TypeError):
            text = body.decode("utf-8", "replace")[:200]
            return cls(
                Problem.from_dict(
                    {"type": "about:blank", "title": "Unexpected answer", "status": status, "code": "UNKNOWN", "detail": text}
                )
            )
