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

from sms_fakes import HASH_KEY  # noqa: E402

from dossier import services as dossier_services  # noqa: E402
from dossier.adapters.sqlite import SqliteOnestop  # noqa: E402
from dossier.seed import generate  # noqa: E402
from dossier.settings import REPO_ROOT, DossierSettings  # noqa: E402


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
