"""Admin console settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode

from common.settings import Flag, GatewayClientSettings, RasaSettings, StorageSettings, invalid


def _command(value: Any) -> Any:
    """Split a shell command line (ADMIN_INDEX_BUILD_CMD) into its words."""
    if not isinstance(value, str):
        return value
    try:
        words = shlex.split(value)
    except ValueError:
        words = []
    if not words:
        raise invalid("a command line, e.g. 'python -m knowledge build'")
    return tuple(words)


Command = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_command)]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> Any:
    """Parse ADMIN_TRUSTED_PROXIES: comma-separated addresses or networks; 'none' trusts no proxy."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() == "none":
        return ()
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
    except ValueError:
        raise invalid("comma-separated IP addresses or networks, e.g. 127.0.0.1,::1,10.0.0.0/8") from None


Networks = Annotated[tuple[Network, ...], NoDecode, BeforeValidator(_networks)]


class AdminSettings(GatewayClientSettings, RasaSettings, StorageSettings):
    """Every setting of the admin console (limits are set in the units of their variables)."""

    enabled: Flag = Field(True, alias="ADMIN_ENABLED")  # the gateway mounts the console under /admin
    tracker_url: str = Field("", alias="TRACKER_STORE_URL")
    # Rasa's event broker table (bot.event_broker): the dashboard's analytics; empty = read the tracker store
    analytics_url: str = Field("", alias="ANALYTICS_DB_URL")
    # auto: Secure when the request came over https (or X-Forwarded-Proto)
    secure_cookie: Annotated[str, BeforeValidator(lambda mode: mode.lower() if isinstance(mode, str) else mode)] = (
        Field("auto", alias="ADMIN_SECURE_COOKIE")
    )
    session_idle_minutes: int = Field(120, alias="ADMIN_SESSION_IDLE_MINUTES")
    session_max_hours: int = Field(12, alias="ADMIN_SESSION_MAX_HOURS")
    max_failures: int = Field(5, alias="ADMIN_MAX_LOGIN_FAILURES")  # per (account, client)
    desk_poll_s: float = Field(1.0, ge=0.1, le=30, alias="ADMIN_DESK_POLL_S")  # the live desk looks for changes
    lockout_minutes: int = Field(15, alias="ADMIN_LOCKOUT_MINUTES")
    # Above this many failures on one account from all clients, every try on it waits ADMIN_LOGIN_DELAY_S.
    account_slowdown_failures: int = Field(50, alias="ADMIN_ACCOUNT_SLOWDOWN_FAILURES")
    login_delay_s: float = Field(2.0, alias="ADMIN_LOGIN_DELAY_S")
    # Peers whose X-Forwarded-For names the real client (the reverse proxy in front of the gateway).
    trusted_proxies: Networks = Field(_networks("127.0.0.1,::1"), alias="ADMIN_TRUSTED_PROXIES")
    max_upload_mb: int = Field(128, alias="ADMIN_MAX_UPLOAD_MB")
    # An import runs in a child process bounded to this address space and time (IMPORT_MAX_* bound the file).
    import_memory_mb: int = Field(1024, alias="ADMIN_IMPORT_MEMORY_MB", ge=256)
    import_timeout_s: float = Field(300.0, alias="ADMIN_IMPORT_TIMEOUT_S", gt=0)
    index_build_cmd: Command = Field((sys.executable, "-m", "knowledge", "build"), alias="ADMIN_INDEX_BUILD_CMD")
    auto_rebuild: Flag = Field(False, alias="ADMIN_AUTO_REBUILD")
    semantic_search: Flag = Field(True, alias="ADMIN_SEMANTIC_SEARCH")

    @property
    def session_idle_s(self) -> int:
        """A session ends after this many idle seconds."""
        return self.session_idle_minutes * 60

    @property
    def session_max_s(self) -> int:
        """A session ends this many seconds after login, active or not."""
        return self.session_max_hours * 3600

    @property
    def failure_window_s(self) -> int:
        """Failed logins count within this many seconds."""
        return self.lockout_minutes * 60

    @property
    def lockout_s(self) -> int:
        """How long too many failed logins lock an account out, in seconds."""
        return self.lockout_minutes * 60

    @property
    def max_client_failures(self) -> int:
        """Failed logins one client may make on all accounts together within the window."""
        return self.max_failures * 4

    @property
    def max_upload_bytes(self) -> int:
        """The largest import file accepted."""
        return self.max_upload_mb * 1024 * 1024

    @property
    def admin_db(self) -> Path:
        """SQLite file with users, sessions, login failures and the audit log."""
        return self.data_dir / "admin.db"

    @property
    def upload_dir(self) -> Path:
        """Where uploaded import files wait between the dry run and apply."""
        return self.data_dir / "admin_uploads"

    @property
    def tracker_store_url(self) -> str:
        """The Rasa SQL tracker store."""
        return self.tracker_url or f"sqlite:///{self.data_dir / 'tracker.db'}"
