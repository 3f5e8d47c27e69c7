"""Settings of the dossier capability (one-stop adapter, limits, notifier), read once from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from common.settings import REPO_ROOT, GatewayClientSettings, HotlineSettings, StorageSettings, Url

__all__ = ["REPO_ROOT", "DossierSettings"]

# "" (e.g. ONESTOP_BACKEND="  ") means the default; make_adapter rejects unknown backends.
Backend = Annotated[str, AfterValidator(lambda name: name.strip().lower() or "sqlite")]


class DossierSettings(GatewayClientSettings, HotlineSettings, StorageSettings):
    """Everything the dossier capability can be configured with."""

    backend: Backend = Field("sqlite", alias="ONESTOP_BACKEND")
    onestop_url: Url = Field("", alias="ONESTOP_URL")
    onestop_token: str = Field("", alias="ONESTOP_TOKEN")
    onestop_timeout_s: float = Field(5.0, alias="ONESTOP_TIMEOUT_S")
    onestop_retries: int = Field(2, alias="ONESTOP_RETRIES")
    onestop_backoff_s: float = Field(0.3, alias="ONESTOP_BACKOFF_S")
    breaker_failures: int = Field(5, alias="ONESTOP_BREAKER_FAILURES")
    breaker_reset_s: float = Field(30.0, alias="ONESTOP_BREAKER_RESET_S")
    max_failures_per_sender: int = Field(5, alias="DOSSIER_MAX_FAILURES_PER_SENDER")
    sender_window_s: float = Field(3600.0, alias="DOSSIER_SENDER_WINDOW_S")
    max_failures_per_code: int = Field(10, alias="DOSSIER_MAX_FAILURES_PER_CODE")
    code_window_s: float = Field(86400.0, alias="DOSSIER_CODE_WINDOW_S")
    verified_ttl_s: float = Field(3600.0, alias="DOSSIER_VERIFIED_TTL_S")
    notifier_interval_s: float = Field(60.0, alias="NOTIFIER_INTERVAL_S")
    hash_key: str = Field("", alias="TTHC_HASH_KEY")

    @property
    def gateway_token(self) -> str:
        """The bearer token the notifier sends to the gateway's push endpoint (generated when not set)."""
        return self.push_bearer()

    @property
    def onestop_db(self) -> Path:
        """SQLite file of the embedded one-stop system."""
        return self.data_dir / "onestop.db"

    @property
    def state_db(self) -> Path:
        """SQLite file for our own state: audit, rate limits, subscriptions, push outbox."""
        return self.data_dir / "dossier_state.db"
