from enum import StrEnum


class UserEventType(StrEnum):
    CREATED = "CREATED"
    DELETED = "DELETED"
    UPDATED = "UPDATED"

    def __str__(self) -> str:
        return str(self.value)
