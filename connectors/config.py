"""Gateway settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from admin.config import AdminSettings
from common.rasa import MAX_MESSAGE_CHARS
from common.settings import REPO_ROOT, Flag, PushTokenSettings, RasaSettings, RetentionSettings, StorageSettings, Url
from knowledge.config import KnowledgeSettings

__all__ = ["REPO_ROOT", "GatewayProcessSettings", "GatewaySettings"]


class GatewaySettings(PushTokenSettings, RasaSettings, RetentionSettings, StorageSettings):
    """Every setting of the connectors gateway."""

    host: str = Field("127.0.0.1", alias="GATEWAY_HOST")
    port: int = Field(8080, alias="GATEWAY_PORT")
    web_max_chars: int = Field(2000, ge=1, le=MAX_MESSAGE_CHARS, alias="WEBCHAT_MAX_CHARS")
    # Who may show the web chat page in a frame (CSP frame-ancestors): 'none', 'self' or origins.
    web_frame_ancestors: str = Field("'self'", pattern=r"^[^;,\r\n]*$", alias="WEBCHAT_FRAME_ANCESTORS")
    max_body_bytes: int = Field(1024 * 1024, alias="GATEWAY_MAX_BODY_BYTES")
    # One sender (a chat, a phone number, a web chat id) may send this many messages a minute, with at
    # most this many waiting for an answer; beyond, they are told once a minute and not answered.
    sender_max_per_minute: int = Field(30, ge=1, alias="GATEWAY_SENDER_MAX_PER_MINUTE")
    sender_max_queued: int = Field(8, ge=1, alias="GATEWAY_SENDER_MAX_QUEUED")
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
    hash_key: str = Field("", alias="TTHC_HASH_KEY")
    sms_secret: str = Field("", alias="SMS_SECRET")
    sms_allowed_ips: str = Field("127.0.0.1,::1", alias="SMS_ALLOWED_IPS")
    sms_sendsms_url: Url = Field("http://127.0.0.1:13013/cgi-bin/sendsms", alias="SMS_SENDSMS_URL")
    sms_sendsms_user: str = Field("", alias="SMS_SENDSMS_USER")
    sms_sendsms_password: str = Field("", alias="SMS_SENDSMS_PASSWORD")
    sms_from: str = Field("", alias="SMS_FROM")
    sms_dlr_base_url: Url = Field("http://127.0.0.1:8080", alias="SMS_DLR_BASE_URL")
    sms_ucs2: Flag = Field(False, alias="SMS_UCS2")
    sms_max_parts: int = Field(2, ge=1, le=10, alias="SMS_MAX_PARTS")
    sms_max_in_chars: int = Field(480, ge=10, alias="SMS_MAX_IN_CHARS")
    sms_daily_max_in: int = Field(50, ge=1, alias="SMS_DAILY_MAX_IN")
    sms_daily_max_parts: int = Field(40, ge=1, alias="SMS_DAILY_MAX_PARTS")
    sms_duplicate_window_s: float = Field(120.0, ge=0, alias="SMS_DUPLICATE_WINDOW_S")
    outbox_max_attempts: int = Field(30, alias="OUTBOX_MAX_ATTEMPTS")
    outbox_retry_base_s: float = Field(1.0, alias="OUTBOX_RETRY_BASE_S")
    outbox_max_age_s: float = Field(7 * 24 * 3600.0, alias="OUTBOX_MAX_AGE_S")
    # When a user writes again, their held replies younger than this are sent first; older answers
    # to earlier messages are dropped (proactive pushes are kept, marked with their time).
    outbox_held_reply_max_age_s: float = Field(600.0, alias="OUTBOX_HELD_REPLY_MAX_AGE_S")

    @property
    def gateway_db(self) -> Path:
        """SQLite file holding seen ids, callback ids, outbox, web inbox and tokens."""
        return self.data_dir / "gateway.sqlite3"

    @property
    def telegram_enabled(self) -> bool:
        """Telegram needs a bot token and a webhook secret."""
        return bool(self.telegram_token and self.telegram_secret)

    @property
    def sms_enabled(self) -> bool:
        """SMS needs the shared secret of Kannel's MO/DLR URLs and a sendsms account."""
        return bool(self.sms_secret and self.sms_sendsms_user and self.sms_sendsms_password)

    @property
    def zalo_enabled(self) -> bool:
        """Zalo needs the app id, the app secret (OAuth) and the OA secret key (webhook MAC)."""
        return bool(self.zalo_app_id and self.zalo_app_secret and self.zalo_oa_secret_key)


class GatewayProcessSettings(GatewaySettings, AdminSettings, KnowledgeSettings):
    """The gateway process's one settings object: the gateway, the admin console it mounts, the catalogue."""
