"""The history's lines checked against the contract itself.

The schema of an event is the AsyncAPI document's `UserEvent` (contracts/asyncapi/users-events.yaml, the proto3
JSON of charter.users.v1.UserEvent), loaded when the job runs: nothing of it is copied here, so a contract change
(a new optional field, a redacted user) is what the job accepts the next time it runs.
"""

import json

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

# The event types the figures are made of: checked against the contract's enum when it is loaded.
CREATED = "USER_EVENT_TYPE_CREATED"
UPDATED = "USER_EVENT_TYPE_UPDATED"
DELETED = "USER_EVENT_TYPE_DELETED"


class ContractError(Exception):
    """The contract does not say what the job needs."""


def load_event_schema(path):
    """The UserEvent schema as a standalone JSON Schema (its `#/components/...` references resolve within it)."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    schemas = (document.get("components") or {}).get("schemas") or {}
    if "UserEvent" not in schemas:
        raise ContractError(f"{path} has no components.schemas.UserEvent")
    types = set((schemas.get("UserEventType") or {}).get("enum") or [])
    missing = {CREATED, UPDATED, DELETED} - types
    if missing:
        raise ContractError(f"{path}: UserEventType lacks {', '.join(sorted(missing))}")
    # AsyncAPI's schema format is a superset of JSON Schema draft 7; the event's schema uses draft 7 alone.
    return {"$ref": "#/components/schemas/UserEvent", "components": {"schemas": schemas}}


def problems_in(lines, schema):
    """For each (line, index) of a partition: (line number, None) when it is a UserEvent, else (number, why).

    Blank lines are skipped. Formats are checked too (date-time by RFC 3339, e-mail), as the contract states them.
    """
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    for line, index in lines:
        if not line.strip():
            continue
        number = index + 1
        try:
            event = json.loads(line)
        except ValueError as error:
            yield number, f"not JSON ({error})"
            continue
        error = best_match(validator.iter_errors(event))
        if error is None:
            yield number, None
        else:
            where = "/".join(str(part) for part in error.absolute_path) or "the event"
            yield number, f"{where}: {error.message[:200]}"
