# mypy: allow-untyped-defs
"""Fixtures for the admin console tests: a temporary data dir, seeded catalogue and accounts, the gateway app."""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from admin_fakes import PASSWORDS, catalogue_items  # noqa: E402

from admin.store import AdminStore  # noqa: E402
from connectors.app import create_app  # noqa: E402
from connectors.config import GatewaySettings  # noqa: E402
from knowledge.store import Catalogue  # noqa: E402

FAKE_BUILD = HERE / "fake_build.py"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def accounts_db(tmp_path_factory: Any) -> Path:
    """admin.db with one account per role (hashing once per session keeps the tests fast)."""
    path = tmp_path_factory.mktemp("accounts") / "admin.db"
    store = AdminStore(path)
    for role, password in PASSWORDS.items():
        store.create_user(role, password, role)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accounts_db: Path) -> Path:
    """A data dir with accounts and a seeded catalogue; settings point at it."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADMIN_SEMANTIC_SEARCH", "0")
    monkeypatch.setenv("ADMIN_INDEX_BUILD_CMD", f"{sys.executable} {FAKE_BUILD}")
    for name in ("CATALOGUE_DB_URL", "TRACKER_STORE_URL", "ADMIN_ENABLED", "ADMIN_SECURE_COOKIE",
                 "ADMIN_AUTO_REBUILD", "GATEWAY_PUSH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(accounts_db, tmp_path / "admin.db")
    catalogue = Catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}")
    catalogue.upsert_many(catalogue_items(), source="seed")
    catalogue.close()
    yield tmp_path


@pytest.fixture
def catalogue(data_dir: Path) -> Any:
    """A second handle on the catalogue (as the action server would have)."""
    cat = Catalogue(f"sqlite:///{data_dir / 'catalogue.db'}")
    yield cat
    cat.close()


@dataclass
class Browser:
    """A test client plus the CSRF token of its session."""

    client: Any
    csrf: str = ""

    async def login(self, username: str, password: str | None = None) -> Any:
        page = await self.client.get("/admin/login")
        token = CSRF_RE.search(await page.text()).group(1)
        response = await self.client.post(
            "/admin/login",
            data={"csrf_token": token, "username": username, "password": password or PASSWORDS[username],
                  "next": "/admin/"},
            allow_redirects=False,
        )
        if response.status == 303:
            home = await self.client.get("/admin/")
            self.csrf = CSRF_RE.search(await home.text()).group(1)
        return response

    async def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any) -> Any:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return await self.client.post(path, data=body, allow_redirects=False, **kw)

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.client.get(path, **kw)


@pytest.fixture
async def app_client(data_dir: Path, aiohttp_client: Any) -> Any:
    """The gateway (admin mounted at /admin) on a test server."""
    settings = GatewaySettings(data_dir=data_dir, rasa_url="http://127.0.0.1:9")
    return await aiohttp_client(create_app(settings, channels=[]))


@pytest.fixture
def browser(app_client: Any) -> Browser:
    """A fresh, logged-out browser."""
    return Browser(app_client)


@pytest.fixture
def make_browser(app_client: Any, aiohttp_client: Any) -> Any:
    """More browsers on the same server (separate cookie jars)."""

    async def build() -> Browser:
        return Browser(await aiohttp_client(app_client.server))

    return build
