from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="User")


@_attrs_define
class User:
    """A user of the platform.

    Attributes:
        id (str): A 64-bit snowflake id as a decimal string.
        name (str): Display name, 1 to 100 characters of Unicode text, not blank; kept as sent.
        email (str): Email address, unique case-insensitively.
        etag (str): Opaque version tag; changes on every write.
        create_time (datetime.datetime): When the user was created.
        update_time (datetime.datetime): When the user was last changed.
    """

    id: str
    name: str
    email: str
    etag: str
    create_time: datetime.datetime
    update_time: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        email = self.email

        etag = self.etag

        create_time = self.create_time.isoformat()

        update_time = self.update_time.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "name": name,
                "email": email,
                "etag": etag,
                "createTime": create_time,
                "updateTime": update_time,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        email = d.pop("email")

        etag = d.pop("etag")

        create_time = datetime.datetime.fromisoformat(d.pop("createTime"))

        update_time = datetime.datetime.fromisoformat(d.pop("updateTime"))

        user = cls(
            id=id,
            name=name,
            email=email,
            etag=etag,
            create_time=create_time,
            update_time=update_time,
        )

        return user
