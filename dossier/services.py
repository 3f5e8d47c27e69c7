"""Everything the dossier conversation needs (adapter, limiter, audit, subscriptions, verified pairs), wired once."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import get_settings
from dossier.adapters import OnestopAdapter, make_adapter
from dossier.audit import AuditLog
from dossier.limits import FailureLimiter
from dossier.settings import DossierSettings
from dossier.store import Hasher, StateDB
from dossier.subscriptions import SubscriptionStore
from dossier.verification import CodeAlerts, VerifiedPairs


@dataclass
class DossierServices:
    """Everything the dossier actions need, built once per process."""

    settings: DossierSettings
    adapter: OnestopAdapter
    limiter: FailureLimiter
    audit: AuditLog
    subscriptions: SubscriptionStore
    hash: Hasher
    verified: VerifiedPairs
    alerts: CodeAlerts

    @classmethod
    def from_settings(cls, settings: DossierSettings, adapter: OnestopAdapter | None = None) -> DossierServices:
        """Wire services from settings (the adapter may be injected)."""
        db = StateDB(settings.state_db)
        hasher = Hasher.from_settings(settings.hash_key, settings.data_dir)
        return cls(
            settings=settings,
            adapter=adapter or make_adapter(settings),
            limiter=FailureLimiter(db, hasher, settings.max_failures_per_sender, settings.sender_window_s,
                                   settings.max_failures_per_code, settings.code_window_s),
            audit=AuditLog(db, hasher),
            subscriptions=SubscriptionStore(db),
            hash=hasher,
            verified=VerifiedPairs(db, hasher, settings.verified_ttl_s),
            alerts=CodeAlerts(db),
        )


_services: DossierServices | None = None


def get_services() -> DossierServices:
    """Process-wide services, created on first use (never at import)."""
    global _services
    if _services is None:
        _services = DossierServices.from_settings(get_settings(DossierSettings))
    return _services


def set_services(services: DossierServices | None) -> None:
    """Replace the process-wide services (tests)."""
    global _services
    _services = services
