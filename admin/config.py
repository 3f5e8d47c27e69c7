"""Admin console settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from connectors.config import REPO_ROOT


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    """An integer setting, ``default`` when unset or malformed."""
    try:
        return int(env.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class AdminSettings:
    """Every setting of the admin console."""

    data_dir: Path = REPO_ROOT / "var"
    tracker_url: str = ""
    secure_cookie: str = "auto"  # auto: Secure when the request came over https (or X-Forwarded-Proto)
    session_idle_s: int = 2 * 3600
    session_max_s: int = 12 * 3600
    max_failures: int = 5
    failure_window_s: int = 15 * 60
    lockout_s: int = 15 * 60
    max_upload_bytes: int = 200 * 1024 * 1024
    index_build_cmd: tuple[str, ...] = field(default=(sys.executable, "-m", "knowledge", "build"))
    auto_rebuild: bool = False
    semantic_search: bool = True
    gateway_url: str = "http://127.0.0.1:8080"
    push_token: str = ""

    @property
    def db_path(self) -> Path:
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AdminSettings:
        """Build settings from ``env`` (default: the process environment)."""
        e = os.environ if env is None else env
        data_dir = Path(e.get("TTHC_DATA_DIR") or (REPO_ROOT / "var")).expanduser().resolve()
        cmd = e.get("ADMIN_INDEX_BUILD_CMD", "")
        return cls(
            data_dir=data_dir,
            tracker_url=e.get("TRACKER_STORE_URL", ""),
            secure_cookie=(e.get("ADMIN_SECURE_COOKIE") or "auto").lower(),
            session_idle_s=_int(e, "ADMIN_SESSION_IDLE_MINUTES", 120) * 60,
            session_max_s=_int(e, "ADMIN_SESSION_MAX_HOURS", 12) * 3600,
            max_failures=_int(e, "ADMIN_MAX_LOGIN_FAILURES", 5),
            failure_window_s=_int(e, "ADMIN_LOCKOUT_MINUTES", 15) * 60,
            lockout_s=_int(e, "ADMIN_LOCKOUT_MINUTES", 15) * 60,
            max_upload_bytes=_int(e, "ADMIN_MAX_UPLOAD_MB", 200) * 1024 * 1024,
            index_build_cmd=tuple(shlex.split(cmd)) if cmd else (sys.executable, "-m", "knowledge", "build"),
            auto_rebuild=(e.get("ADMIN_AUTO_REBUILD") or "0") in ("1", "true", "yes"),
            semantic_search=(e.get("ADMIN_SEMANTIC_SEARCH") or "1") in ("1", "true", "yes"),
            gateway_url=(e.get("GATEWAY_URL") or "http://127.0.0.1:8080").rstrip("/"),
            push_token=e.get("GATEWAY_PUSH_TOKEN", ""),
        )
