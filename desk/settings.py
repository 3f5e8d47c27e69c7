"""Settings of the hand-over desk (read by the action server), read once from the environment."""

from __future__ import annotations

from pydantic import Field

from common.settings import HotlineSettings, RetentionSettings, StorageSettings


class DeskSettings(HotlineSettings, RetentionSettings, StorageSettings):
    """Settings of the desk: where it keeps its queues, the hotline, office hours, key and retention."""

    office_hours: str = Field("7h30–17h00, thứ Hai đến thứ Sáu", alias="OFFICE_HOURS")
    hash_key: str = Field("", alias="TTHC_HASH_KEY")
    retention_interval_s: float = Field(3600.0, alias="RETENTION_INTERVAL_S")
