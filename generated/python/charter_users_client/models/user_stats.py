from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="UserStats")


@_attrs_define
class UserStats:
    """The user events of one minute of event time (by each event's `occurredAt`), as the user-stats
    streaming job counted them. Every field is always present.

        Attributes:
            window_start (datetime.datetime): Start of the window, minute-aligned (inclusive).
            window_end (datetime.datetime): End of the window, `windowStart` plus 60 seconds (exclusive).
            created (int): Users created in the window.
            updated (int): Users changed in the window.
            deleted (int): Users deleted in the window.
            live_users (int): Users live at the window's end: every user created minus every user deleted up to `windowEnd`,
                as
                known when the window fired.
            late_events (int): Events dropped as too late (after their window's allowed lateness) since the job first
                started;
                cumulative.
    """

    window_start: datetime.datetime
    window_end: datetime.datetime
    created: int
    updated: int
    deleted: int
    live_users: int
    late_events: int

    def to_dict(self) -> dict[str, Any]:
        window_start = self.window_start.isoformat()

        window_end = self.window_end.isoformat()

        created = self.created

        updated = self.updated

        deleted = self.deleted

        live_users = self.live_users

        late_events = self.late_events

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "windowStart": window_start,
                "windowEnd": window_end,
                "created": created,
                "updated": updated,
                "deleted": deleted,
                "liveUsers": live_users,
                "lateEvents": late_events,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        window_start = datetime.datetime.fromisoformat(d.pop("windowStart"))

        window_end = datetime.datetime.fromisoformat(d.pop("windowEnd"))

        created = d.pop("created")

        updated = d.pop("updated")

        deleted = d.pop("deleted")

        live_users = d.pop("liveUsers")

        late_events = d.pop("lateEvents")

        user_stats = cls(
            window_start=window_start,
            window_end=window_end,
            created=created,
            updated=updated,
            deleted=deleted,
            live_users=live_users,
            late_events=late_events,
        )

        return user_stats
