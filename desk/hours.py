"""Office hours of the hand-over desk: is anyone on duty now, and when do they start again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

LOCAL_TZ = timezone(timedelta(hours=7))  # Vietnam has one time zone and no daylight saving


def parse_days(spec: str) -> frozenset[int]:
    """ISO weekdays (1 = Monday) from ``"1-5"`` or ``"1,2,3,4,5,6"``; ValueError when malformed."""
    days: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        low, high = int(first), int(last or first)
        if not 1 <= low <= high <= 7:
            raise ValueError(f"weekday range {part!r} is not within 1-7")
        days.update(range(low, high + 1))
    return frozenset(days)


def parse_clock(spec: str) -> int:
    """Minutes after midnight from ``"07:30"``; ValueError when malformed."""
    hours, _, minutes = spec.strip().partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= int(hours) <= 24 or not 0 <= int(minutes or 0) < 60 or value > 24 * 60:
        raise ValueError(f"time {spec!r} is not HH:MM")
    return value


def is_open(days: frozenset[int], start: int, end: int, now: datetime | None = None) -> bool:
    """Whether ``now`` (Vietnam time) falls on an open day between ``start`` and ``end`` minutes."""
    local = (now or datetime.now(timezone.utc)).astimezone(LOCAL_TZ)
    minute = local.hour * 60 + local.minute
    return local.isoweekday() in days and start <= minute < end
