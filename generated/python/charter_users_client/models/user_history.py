from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.user_event import UserEvent


T = TypeVar("T", bound="UserHistory")


@_attrs_define
class UserHistory:
    """One page of a user's events, oldest first.

    Attributes:
        events (list[UserEvent]):
        next_page_token (str | Unset): Pass as pageToken for the next page; absent on the last page.
    """

    events: list[UserEvent]
    next_page_token: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.to_dict()
            events.append(events_item)

        next_page_token = self.next_page_token

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
            }
        )
        if next_page_token is not UNSET:
            field_dict["nextPageToken"] = next_page_token

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.user_event import UserEvent

        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in _events:
            events_item = UserEvent.from_dict(events_item_data)

            events.append(events_item)

        next_page_token = d.pop("nextPageToken", UNSET)

        user_history = cls(
            events=events,
            next_page_token=next_page_token,
        )

        return user_history
