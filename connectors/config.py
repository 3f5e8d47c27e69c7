"""Gateway settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import REPO_ROOT


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """Read an integer setting, falling back to ``default`` when unset or malformed."""
    try:
        return int(env.get(name, "") or default)
    except ValueError:
        return default


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    """Read a float setting, falling back to ``default`` when unset or malformed."""
    try:
        return float(env.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    """Every setting of the connectors gateway."""

    host: str = "127.0.0.1"
    port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 20.0
    data_dir: Path = REPO_ROOT / "var"
    push_token: str = ""
    web_max_chars: int = 2000
    max_body_bytes: int = 1024 * 1024
    telegram_token: str = ""
    telegram_secret: str = ""
    telegram_api_url: str = "https://api.telegram.org/bot"
    zalo_app_id: str = ""
    zalo_app_secret: str = ""
    zalo_oa_secret_key: str = ""
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com/v4/oa/access_token"
    zalo_access_token: str = ""
    zalo_refresh_token: str = ""
    zalo_max_skew_s: float = 300.0
    outbox_max_attempts: int = 30
    outbox_retry_base_s: float = 1.0
    outbox_max_age_s: float = 7 * 24 * 3600.0

    @property
    def db_path(self) -> Path:
        """SQLite file holding seen ids, callback ids, outbox, web inbox and tokens."""
        return self.data_dir / "gateway.sqlite3"

    @property
    def telegram_enabled(self) -> bool:
        """Telegram needs a bot token and a webhook secret."""
        return bool(self.telegram_token and self.telegram_secret)

    @property
    def zalo_enabled(self) -> bool:
        """Zalo needs the app id, the app secret (OAuth) and the OA secret key (webhook MAC)."""
        return bool(self.zalo_app_id and self.zalo_app_secret and self.zalo_oa_secret_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment)."""
        e = os.environ if env is None else env
        data_dir = Path(e.get("TTHC_DATA_DIR") or (REPO_ROOT / "var"))
        return cls(
            host=e.get("GATEWAY_HOST", "127.0.0.1") or "127.0.0.1",
            port=env_int(e, "GATEWAY_PORT", 8080),
            rasa_url=(e.get("RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
            rasa_timeout=env_float(e, "RASA_TIMEOUT", 20.0),
            data_dir=data_dir,
            push_token=e.get("GATEWAY_PUSH_TOKEN", ""),
            web_max_chars=env_int(e, "WEBCHAT_MAX_CHARS", 2000),
            max_body_bytes=env_int(e, "GATEWAY_MAX_BODY_BYTES", 1024 * 1024),
            telegram_token=e.get("TELEGRAM_TOKEN", ""),
            telegram_secret=e.get("TELEGRAM_SECRET", ""),
            telegram_api_url=e.get("TELEGRAM_API_URL") or "https://api.telegram.org/bot",
            zalo_app_id=e.get("ZALO_APP_ID", ""),
            zalo_app_secret=e.get("ZALO_APP_SECRET", ""),
            zalo_oa_secret_key=e.get("ZALO_OA_SECRET_KEY", ""),
            zalo_api_url=(e.get("ZALO_API_URL") or "https://openapi.zalo.me").rstrip("/"),
            zalo_oauth_url=e.get("ZALO_OAUTH_URL") or "https://oauth.zaloapp.com/v4/oa/access_token",
            zalo_access_token=e.get("ZALO_ACCESS_TOKEN", ""),
            zalo_refresh_token=e.get("ZALO_REFRESH_TOKEN", ""),
            zalo_max_skew_s=env_float(e, "ZALO_MAX_SKEW_S", 300.0),
            outbox_max_attempts=env_int(e, "OUTBOX_MAX_ATTEMPTS", 30),
            outbox_retry_base_s=env_float(e, "OUTBOX_RETRY_BASE_S", 1.0),
            outbox_max_age_s=env_float(e, "OUTBOX_MAX_AGE_S", 7 * 24 * 3600.0),
        )
