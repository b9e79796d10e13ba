from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.user_event_type import UserEventType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.user import User


T = TypeVar("T", bound="UserEvent")


@_attrs_define
class UserEvent:
    """One change to a user, after it happened.

    Attributes:
        event_id (str): Unique id of the event.
        type_ (UserEventType): What a user event records.
        user_id (str): A 64-bit snowflake id as a decimal string.
        version (str): The user's version after the change (its numeric etag); increases with every event of a user.
        occurred_at (datetime.datetime): When the change was made.
        user (User | Unset): A user of the platform.
        actor (str | Unset): Who made the change: the subject (`sub`) of the bearer token of the call that made it.
            Absent
            on events recorded before changes carried their actor.
        redacted_at (datetime.datetime | Unset): When the deleted user's personal data was erased from this event: the
            event keeps its
            skeleton (eventId, type, userId, version, occurredAt, actor) and has no `user`. Absent on
            an event that was not erased.
    """

    event_id: str
    type_: UserEventType
    user_id: str
    version: str
    occurred_at: datetime.datetime
    user: User | Unset = UNSET
    actor: str | Unset = UNSET
    redacted_at: datetime.datetime | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        event_id = self.event_id

        type_ = self.type_.value

        user_id = self.user_id

        version = self.version

        occurred_at = self.occurred_at.isoformat()

        user: dict[str, Any] | Unset = UNSET
        if not isinstance(self.user, Unset):
            user = self.user.to_dict()

        actor = self.actor

        redacted_at: str | Unset = UNSET
        if not isinstance(self.redacted_at, Unset):
            redacted_at = self.redacted_at.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "eventId": event_id,
                "type": type_,
                "userId": user_id,
                "version": version,
                "occurredAt": occurred_at,
            }
        )
        if user is not UNSET:
            field_dict["user"] = user
        if actor is not UNSET:
            field_dict["actor"] = actor
        if redacted_at is not UNSET:
            field_dict["redactedAt"] = redacted_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.user import User

        d = dict(src_dict)
        event_id = d.pop("eventId")

        type_ = UserEventType(d.pop("type"))

        user_id = d.pop("userId")

        version = d.pop("version")

        occurred_at = datetime.datetime.fromisoformat(d.pop("occurredAt"))

        _user = d.pop("user", UNSET)
        user: User | Unset
        if isinstance(_user, Unset):
            user = UNSET
        else:
            user = User.from_dict(_user)

        actor = d.pop("actor", UNSET)

        _redacted_at = d.pop("redactedAt", UNSET)
        redacted_at: datetime.datetime | Unset
        if isinstance(_redacted_at, Unset):
            redacted_at = UNSET
        else:
            redacted_at = datetime.datetime.fromisoformat(_redacted_at)

        user_event = cls(
            event_id=event_id,
            type_=type_,
            user_id=user_id,
            version=version,
            occurred_at=occurred_at,
            user=user,
            actor=actor,
            redacted_at=redacted_at,
        )

        return user_event
