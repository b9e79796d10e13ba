"""Runs the shared SDK scenario list (sdk/scenarios/users.json; its format in sdk/README.md) with the Python SDK.

    python run_scenarios.py SCENARIOS.json

against the gateway at CHARTER_BASE_URL, with tokens from CHARTER_TOKEN_URL for CHARTER_CLIENT_ID and
CHARTER_CLIENT_SECRET (CHARTER_SCOPES space-separated, CHARTER_AUDIENCE optional). Prints one JSON line per
scenario: {"scenario", "passed": true} or {"scenario", "passed": false, "step", "op", "error"}; exits 1 when any
scenario failed. Standard library and charter_sdk only.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from typing import Any

from charter_sdk import ProblemError, UsersClient
from live_env import credentials

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


class Failed(Exception):
    pass


class Scenario:
    """The values one scenario run gives its placeholders: unique emails per tag, and each saved step's body."""

    def __init__(self) -> None:
        self.emails: dict[str, str] = {}
        self.saved: dict[str, dict[str, Any]] = {}

    def _value(self, match: re.Match[str]) -> str:
        name = match.group(1)
        kind, _, tag = name.partition(":")
        if kind in ("email", "EMAIL") and tag:
            address = self.emails.setdefault(tag, f"{tag}.{secrets.token_hex(4)}@example.com")
            return address.upper() if kind == "EMAIL" else address
        step, _, field = name.partition(".")
        if step not in self.saved or field not in self.saved[step]:
            raise Failed(f'${{{name}}}: no saved step "{step}" with a field "{field}"')
        return str(self.saved[step][field])

    def substitute(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.substitute(item) for item in value]
        if isinstance(value, dict):
            return {key: self.substitute(item) for key, item in value.items()}
        if isinstance(value, str):
            return PLACEHOLDER.sub(self._value, value)
        return value


def perform(users: UsersClient, op: str, args: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """One step's operation (its operationId) with the SDK: the status and the success body as the contract names it.
    A problem is raised as ProblemError."""
    if_match = args.get("ifMatch")
    if op == "createUser":
        reply = users.create(args["body"]["name"], args["body"]["email"])
    elif op == "getUser":
        reply = users.get(args["id"])
    elif op == "lookupUser":
        reply = users.lookup(args["body"]["email"])
    elif op == "updateUser":
        body = args.get("body", {})
        reply = users.update(args["id"], name=body.get("name"), email=body.get("email"), if_match=if_match)
    elif op == "deleteUser":
        reply = users.delete(args["id"], if_match=if_match)
    elif op == "listUsers" and args.get("allPages"):
        return 200, {"ids": [user.id for user in users.list_all(page_size=args.get("pageSize"))]}
    elif op == "listUsers":
        reply = users.list(page_size=args.get("pageSize"), page_token=args.get("pageToken"))
    else:
        raise Failed(f"unknown operation {op}")
    return reply.status, None if reply.data is None else reply.data.to_dict()


def check_problem(error: ProblemError, expect: dict[str, Any]) -> None:
    seen = json.dumps(error.problem.to_dict())
    if error.status != expect["status"] or "problem" not in expect:
        raise Failed(f"got the problem {error.status} {error.code}, expected {json.dumps(expect)}: {seen}")
    if error.code != expect["problem"]:
        raise Failed(f"code {error.code}, expected {expect['problem']}: {seen}")
    missing = [field for field in expect.get("invalidFields", []) if field not in error.fields]
    if missing:
        raise Failed(f"the problem does not name {missing} among its fields {error.fields}")


def check_success(status: int, body: dict[str, Any] | None, expect: dict[str, Any]) -> None:
    seen = json.dumps(body)
    if status != expect["status"] or "problem" in expect:
        raise Failed(f"got {status}, expected {json.dumps(expect)}: {seen}")
    body = body or {}
    for field, value in expect.get("body", {}).items():
        if body.get(field) != value:
            raise Failed(f"{field} is {json.dumps(body.get(field))}, expected {json.dumps(value)}")
    if "ids" in expect:
        ids = body["ids"]
        if len(set(ids)) != len(ids):
            raise Failed("the walk returned a user twice")
        mine = [id for id in ids if id in expect["ids"]]
        if mine != expect["ids"]:
            raise Failed(f"the walk returned {mine} of the expected users, expected {expect['ids']}")
    if "pageSize" in expect and len(body.get("users", [])) != expect["pageSize"]:
        raise Failed(f"{len(body.get('users', []))} users on the page, expected {expect['pageSize']}")
    if "nextPageToken" in expect and bool(body.get("nextPageToken")) != expect["nextPageToken"]:
        raise Failed(f"nextPageToken is {body.get('nextPageToken')!r}")


def run(users: UsersClient, scenario: dict[str, Any]) -> dict[str, Any]:
    state = Scenario()
    for index, step in enumerate(scenario["steps"], start=1):
        try:
            args = state.substitute(step.get("args", {}))
            try:
                status, body = perform(users, step["op"], args)
            except ProblemError as error:
                check_problem(error, state.substitute(step["expect"]))
                continue
            check_success(status, body, state.substitute(step["expect"]))
            if step.get("save") and body is not None:
                state.saved[step["save"]] = body
        except Exception as error:  # a failed check, or anything the SDK raised: reported with its step
            message = str(error) if isinstance(error, Failed) else f"{type(error).__name__}: {error}"
            return {"scenario": scenario["name"], "passed": False, "step": index, "op": step["op"], "error": message}
    return {"scenario": scenario["name"], "passed": True}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as file:
        scenarios = json.load(file)["scenarios"]
    token = credentials()
    failed = 0
    with UsersClient(os.environ["CHARTER_BASE_URL"], token) as users:
        for scenario in scenarios:
            result = run(users, scenario)
            failed += 0 if result["passed"] else 1
            print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
