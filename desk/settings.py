"""Settings of the hand-over desk (read by the action server), read once from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from common.settings import HotlineSettings


class ActionSettings(HotlineSettings):
    """Settings of the action server: where the desk keeps its queues, the hotline, office hours."""

    office_hours: str = Field("7h30–17h00, thứ Hai đến thứ Sáu", alias="OFFICE_HOURS")


@lru_cache(maxsize=1)
def get_settings() -> ActionSettings:
    """Read the settings once (tests call ``get_settings.cache_clear()`` after changing env)."""
    return ActionSettings.from_env()
