"""Settings shared by the action-server modules, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from common.settings import REPO_ROOT


@dataclass(frozen=True)
class ActionSettings:
    """Settings of the action server."""

    data_dir: Path
    hotline: str
    office_hours: str


@lru_cache(maxsize=1)
def get_settings() -> ActionSettings:
    """Read the settings once (tests call ``get_settings.cache_clear()`` after changing env)."""
    return ActionSettings(
        data_dir=Path(os.environ.get("TTHC_DATA_DIR") or REPO_ROOT / "var"),
        hotline=os.environ.get("HOTLINE_NUMBER", "1900 1234"),
        office_hours=os.environ.get("OFFICE_HOURS", "7h30–17h00, thứ Hai đến thứ Sáu"),
    )
