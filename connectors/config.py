"""Gateway settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from admin.config import AdminSettings
from common.rasa import MAX_MESSAGE_CHARS
from common.settings import REPO_ROOT, PushTokenSettings, RasaSettings, Url
from knowledge.config import KnowledgeSettings

__all__ = ["REPO_ROOT", "GatewayProcessSettings", "GatewaySettings"]


class GatewaySettings(PushTokenSettings, RasaSettings):
    """Every setting of the connectors gateway."""

    host: str = Field("127.0.0.1", alias="GATEWAY_HOST")
    port: int = Field(8080, alias="GATEWAY_PORT")
    web_max_chars: int = Field(2000, ge=1, le=MAX_MESSAGE_CHARS, alias="WEBCHAT_MAX_CHARS")
    # Who may show the web chat page in a frame (CSP frame-ancestors): 'none', 'self' or origins.
    web_frame_ancestors: str = Field("'self'", pattern=r"^[^;,\r\n]*$", alias="WEBCHAT_FRAME_ANCESTORS")
    max_body_bytes: int = Field(1024 * 1024, alias="GATEWAY_MAX_BODY_BYTES")
    telegram_token: str = Field("", alias="TELEGRAM_TOKEN")
    telegram_secret: str = Field("", alias="TELEGRAM_SECRET")
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")
    zalo_app_id: str = Field("", alias="ZALO_APP_ID")
    zalo_app_secret: str = Field("", alias="ZALO_APP_SECRET")
    zalo_oa_secret_key: str = Field("", alias="ZALO_OA_SECRET_KEY")
    zalo_api_url: Url = Field("https://openapi.zalo.me", alias="ZALO_API_URL")
    zalo_oauth_url: str = Field("https://oauth.zaloapp.com/v4/oa/access_token", alias="ZALO_OAUTH_URL")
    zalo_access_token: str = Field("", alias="ZALO_ACCESS_TOKEN")
    zalo_refresh_token: str = Field("", alias="ZALO_REFRESH_TOKEN")
    zalo_max_skew_s: float = Field(300.0, alias="ZALO_MAX_SKEW_S")
    outbox_max_attempts: int = Field(30, alias="OUTBOX_MAX_ATTEMPTS")
    outbox_retry_base_s: float = Field(1.0, alias="OUTBOX_RETRY_BASE_S")
    outbox_max_age_s: float = Field(7 * 24 * 3600.0, alias="OUTBOX_MAX_AGE_S")

    @property
    def gateway_db(self) -> Path:
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


class GatewayProcessSettings(GatewaySettings, AdminSettings, KnowledgeSettings):
    """The gateway process's one settings object: the gateway, the admin console it mounts, the catalogue."""
