# mypy: allow-untyped-defs
"""Fixtures for the live hand-over tests: data dir with accounts and catalogue, the Rasa double, the gateway."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent / "admin", HERE.parent / "connectors"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from admin_fakes import PASSWORDS, catalogue_items  # noqa: E402
from handover_fakes import TOKEN  # noqa: E402

from admin.store import AdminStore  # noqa: E402
from knowledge.store import Catalogue  # noqa: E402


@pytest.fixture(scope="session")
def desk_accounts(tmp_path_factory: Any) -> Path:
    """admin.db with one account per role plus a second editor (hashing once per session)."""
    path = tmp_path_factory.mktemp("desk-accounts") / "admin.db"
    store = AdminStore(path)
    for role, password in PASSWORDS.items():
        store.create_user(role, password, role)
    store.create_user("editor2", PASSWORDS["editor"], "editor")
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, desk_accounts: Path) -> Path:
    """A data dir with accounts and a seeded catalogue; the desk is open around the clock."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADMIN_SEMANTIC_SEARCH", "0")
    monkeypatch.setenv("RASA_TOKEN", TOKEN)
    monkeypatch.setenv("DESK_OPEN_DAYS", "1-7")
    monkeypatch.setenv("DESK_OPEN_FROM", "00:00")
    monkeypatch.setenv("DESK_OPEN_UNTIL", "24:00")
    monkeypatch.setenv("ADMIN_DESK_POLL_S", "0.2")
    for name in ("CATALOGUE_DB_URL", "TRACKER_STORE_URL", "ADMIN_ENABLED", "ADMIN_SECURE_COOKIE",
                 "ADMIN_AUTO_REBUILD", "GATEWAY_PUSH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(desk_accounts, tmp_path / "admin.db")
    catalogue = Catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}")
    catalogue.upsert_many(catalogue_items(), source="seed")
    catalogue.close()
    return tmp_path


@pytest.fixture
def catalogue(data_dir: Path) -> Any:
    """The catalogue as the action server sees it."""
    cat = Catalogue(f"sqlite:///{data_dir / 'catalogue.db'}")
    yield cat
    cat.close()
