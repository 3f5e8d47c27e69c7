"""One-stop (một cửa) system adapter: one interface, an embedded SQLite and an HTTP implementation."""

from __future__ import annotations

from common.settings import get_settings
from dossier.adapters.base import OnestopAdapter, OnestopUnavailable
from dossier.models import Dossier, Status
from dossier.settings import DossierSettings

__all__ = ["Dossier", "DossierSettings", "OnestopAdapter", "OnestopUnavailable", "Status", "make_adapter"]


def make_adapter(settings: DossierSettings | None = None) -> OnestopAdapter:
    """Build the adapter selected by ONESTOP_BACKEND (sqlite|http)."""
    settings = settings or get_settings(DossierSettings)
    if settings.backend == "http":
        from dossier.adapters.http import CircuitBreaker, HttpOnestop

        return HttpOnestop(
            settings.onestop_url,
            settings.onestop_token,
            timeout_s=settings.onestop_timeout_s,
            retries=settings.onestop_retries,
            backoff_s=settings.onestop_backoff_s,
            breaker=CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s),
        )
    if settings.backend != "sqlite":
        raise ValueError(f"ONESTOP_BACKEND must be 'sqlite' or 'http', not {settings.backend!r}")
    from dossier.adapters.sqlite import SqliteOnestop

    return SqliteOnestop(settings.onestop_db)
