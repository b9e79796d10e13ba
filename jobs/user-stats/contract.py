"""Decoding `charter.users.v1.events` by its contract: the AsyncAPI document is loaded at start and every value is
validated against its `components/schemas/UserEvent` (with the document's own $refs), so the job holds no copy of
the schema. Only what the stats need is kept from a valid event: its type and its event time."""

import json
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Optional, Union

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi" / "users-events.yaml"
_DOCUMENT_URI = "urn:charter:asyncapi:users-events"

CREATED = "USER_EVENT_TYPE_CREATED"
UPDATED = "USER_EVENT_TYPE_UPDATED"
DELETED = "USER_EVENT_TYPE_DELETED"


class Decoded(NamedTuple):
    type: str
    occurred_at_ms: int


class Rejected(NamedTuple):
    """Why a value was skipped: where in the value and which rule (never the value itself: it may hold an e-mail)."""

    reason: str


def load_contract(path: Path = CONTRACT) -> dict:
    """The AsyncAPI document, read once when the job starts (its functions carry it to the workers)."""
    return yaml.safe_load(path.read_text())


def load_validator(document: dict) -> Draft7Validator:
    registry = Registry().with_resource(_DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT7))
    schema = {"$ref": f"{_DOCUMENT_URI}#/components/schemas/UserEvent"}
    return Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def _epoch_ms(text: str) -> int:
    """RFC 3339 (what proto3 JSON writes for a Timestamp: `Z` or an offset, optional fraction) to epoch ms."""
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return int(moment.timestamp() * 1000)


def decode(validator: Draft7Validator, value: Optional[Union[str, bytes]]) -> Union[Decoded, Rejected]:
    if value is None:
        return Rejected("no value (a tombstone)")
    try:
        event = json.loads(value)
    except ValueError as error:
        return Rejected(f"not JSON: {error.msg} at {error.pos}")
    error = next(iter(sorted(validator.iter_errors(event), key=lambda e: list(e.path))), None)
    if error is not None:
        return Rejected(f"does not match the contract's UserEvent at {error.json_path}: {error.validator} rule")
    try:
        return Decoded(event["type"], _epoch_ms(event["occurredAt"]))
    except ValueError:
        return Rejected("occurredAt is not an RFC 3339 time with a zone")
