"""Settings of the dossier capability (one-stop adapter, limits, notifier), read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from common.settings import REPO_ROOT


def _float(name: str, default: float) -> float:
    """Read a float env var, falling back to ``default`` when unset or malformed."""
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _int(name: str, default: int) -> int:
    """Read an int env var, falling back to ``default`` when unset or malformed."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    """Everything the dossier capability can be configured with."""

    data_dir: Path = REPO_ROOT / "var"
    backend: str = "sqlite"
    onestop_url: str = ""
    onestop_token: str = ""
    onestop_timeout_s: float = 5.0
    onestop_retries: int = 2
    onestop_backoff_s: float = 0.3
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    max_failures_per_sender: int = 5
    sender_window_s: float = 3600.0
    max_failures_per_code: int = 10
    code_window_s: float = 86400.0
    hotline: str = "1900 1234"
    gateway_url: str = "http://127.0.0.1:8080"
    gateway_token: str = ""
    notifier_interval_s: float = 60.0
    hash_key: str = ""

    @property
    def onestop_db(self) -> Path:
        """SQLite file of the embedded one-stop system."""
        return self.data_dir / "onestop.db"

    @property
    def state_db(self) -> Path:
        """SQLite file for our own state: audit, rate limits, subscriptions, push outbox."""
        return self.data_dir / "dossier_state.db"


def settings_from_env() -> Settings:
    """Build settings from environment variables (defaults work offline)."""
    return Settings(
        data_dir=Path(os.environ.get("TTHC_DATA_DIR") or REPO_ROOT / "var"),
        backend=os.environ.get("ONESTOP_BACKEND", "sqlite").strip().lower() or "sqlite",
        onestop_url=os.environ.get("ONESTOP_URL", "").rstrip("/"),
        onestop_token=os.environ.get("ONESTOP_TOKEN", ""),
        onestop_timeout_s=_float("ONESTOP_TIMEOUT_S", 5.0),
        onestop_retries=_int("ONESTOP_RETRIES", 2),
        onestop_backoff_s=_float("ONESTOP_BACKOFF_S", 0.3),
        breaker_failures=_int("ONESTOP_BREAKER_FAILURES", 5),
        breaker_reset_s=_float("ONESTOP_BREAKER_RESET_S", 30.0),
        max_failures_per_sender=_int("DOSSIER_MAX_FAILURES_PER_SENDER", 5),
        sender_window_s=_float("DOSSIER_SENDER_WINDOW_S", 3600.0),
        max_failures_per_code=_int("DOSSIER_MAX_FAILURES_PER_CODE", 10),
        code_window_s=_float("DOSSIER_CODE_WINDOW_S", 86400.0),
        hotline=os.environ.get("HOTLINE_NUMBER", "1900 1234"),
        gateway_url=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/"),
        gateway_token=os.environ.get("GATEWAY_PUSH_TOKEN", ""),
        notifier_interval_s=_float("NOTIFIER_INTERVAL_S", 60.0),
        hash_key=os.environ.get("TTHC_HASH_KEY", ""),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use."""
    return settings_from_env()
