"""Settings of the hand-over desk (read by the action server), read once from the environment."""

from __future__ import annotations

from pydantic import Field

from common.settings import HotlineSettings


class DeskSettings(HotlineSettings):
    """Settings of the desk: where it keeps its queues, the hotline, office hours."""

    office_hours: str = Field("7h30–17h00, thứ Hai đến thứ Sáu", alias="OFFICE_HOURS")
