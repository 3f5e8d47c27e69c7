"""Settings of the hand-over desk (read by the action server), read once from the environment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from common.settings import HotlineSettings, RetentionSettings, StorageSettings, invalid
from desk import hours


def _valid(parse: Any, expected: str) -> Any:
    """A validator that keeps the text but refuses what ``parse`` cannot read."""

    def check(value: str) -> str:
        """Parse once to reject malformed values at start-up."""
        try:
            parse(value)
        except ValueError:
            raise invalid(expected) from None
        return value

    return AfterValidator(check)


Days = Annotated[str, _valid(hours.parse_days, "ISO weekdays such as 1-5 or 1,2,3,4,5,6 (1 = Monday)")]
Clock = Annotated[str, _valid(hours.parse_clock, "a time of day as HH:MM, e.g. 07:30")]


class DeskSettings(HotlineSettings, RetentionSettings, StorageSettings):
    """Settings of the desk: where it keeps its queues, the hotline, office hours, key and retention."""

    office_hours: str = Field("7h30–17h00, thứ Hai đến thứ Sáu", alias="OFFICE_HOURS")
    open_days: Days = Field("1-5", alias="DESK_OPEN_DAYS")
    open_from: Clock = Field("07:30", alias="DESK_OPEN_FROM")
    open_until: Clock = Field("17:00", alias="DESK_OPEN_UNTIL")
    minutes_per_citizen: float = Field(5.0, gt=0, alias="DESK_MINUTES_PER_CITIZEN")
    hash_key: str = Field("", alias="TTHC_HASH_KEY")
    retention_interval_s: float = Field(3600.0, alias="RETENTION_INTERVAL_S")

    def desk_open(self, now: datetime | None = None) -> bool:
        """Whether staff are on duty at ``now`` (Vietnam time)."""
        return hours.is_open(hours.parse_days(self.open_days), hours.parse_clock(self.open_from),
                             hours.parse_clock(self.open_until), now)

    def wait_minutes(self, position: int) -> int:
        """A rough wait for the citizen at ``position`` in the queue, in whole minutes."""
        return max(1, round(position * self.minutes_per_citizen))
