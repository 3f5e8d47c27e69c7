# mypy: allow-untyped-defs
"""Fixtures for the SMS tests: seeded dossier services, the fake Rasa, a gateway with the SMS channel."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from kannel_harness import PASSWORD, SECRET, SHORT_CODE, USER  # noqa: E402

from connectors.config import GatewaySettings  # noqa: E402
from dossier import services as dossier_services  # noqa: E402
from dossier.adapters.sqlite import SqliteOnestop  # noqa: E402
from dossier.seed import generate  # noqa: E402
from dossier.settings import REPO_ROOT, DossierSettings  # noqa: E402

HASH_KEY = "sms-test-key"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The project's domain.yml."""
    return yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def dossier_services_installed(tmp_path: Path) -> Iterator[dossier_services.DossierServices]:
    """Process-wide dossier services over a seeded one-stop DB, sharing the gateway's hash key."""
    data = tmp_path / "actions"
    data.mkdir()
    settings = DossierSettings(data_dir=data, hash_key=HASH_KEY, hotline="1900 1234")
    onestop = SqliteOnestop(settings.onestop_db)
    onestop.upsert(generate(date(2026, 3, 2)))
    svc = dossier_services.DossierServices.from_settings(settings, adapter=onestop)
    dossier_services.set_services(svc)
    yield svc
    dossier_services.set_services(None)


def sms_settings(tmp: Path, rasa_url: str, **over: Any) -> GatewaySettings:
    """Gateway settings with only the SMS channel enabled."""
    values: dict[str, Any] = dict(
        rasa_url=rasa_url, rasa_timeout=5.0, data_dir=tmp, hash_key=HASH_KEY, sms_secret=SECRET,
        sms_sendsms_user=USER, sms_sendsms_password=PASSWORD, sms_from=SHORT_CODE,
        outbox_retry_base_s=0.05,
    )
    values.update(over)
    return GatewaySettings(**values)
