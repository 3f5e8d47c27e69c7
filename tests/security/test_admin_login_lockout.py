"""§4: admin lock-outs per (account, client), clients told apart behind a trusted proxy; dashboard code alerts."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from admin.config import AdminSettings
from admin.store import AdminStore
from common.settings import SettingsError
from connectors.app import create_app
from connectors.config import GatewaySettings
from dossier.store import StateDB

PASSWORDS = {"editor": "editor-pass-123456", "viewer": "viewer-pass-123456"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ATTACKER, OWNER = "203.0.113.9", "198.51.100.7"


@pytest.fixture(scope="module")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """admin.db with an editor and a viewer (hashed once per module)."""
    path = tmp_path_factory.mktemp("accounts") / "admin.db"
    store = AdminStore(path)
    for name, password in PASSWORDS.items():
        store.create_user(name, password, name)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accounts_db: Path) -> Path:
    """A data dir with the accounts; the console reads its settings from this environment."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADMIN_SEMANTIC_SEARCH", "0")
    for name in ("CATALOGUE_DB_URL", "TRACKER_STORE_URL", "ADMIN_TRUSTED_PROXIES", "ADMIN_MAX_LOGIN_FAILURES",
                 "ADMIN_ACCOUNT_SLOWDOWN_FAILURES", "ADMIN_LOGIN_DELAY_S"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "admin.db").write_bytes(accounts_db.read_bytes())
    return tmp_path


@pytest.fixture
def client(data_dir: Path, aiohttp_client: Any) -> Any:
    """A factory of test clients on the gateway with the console mounted (started after env tweaks)."""

    async def build() -> Any:
        return await aiohttp_client(create_app(GatewaySettings(data_dir=data_dir, rasa_url="http://127.0.0.1:9"),
                                               channels=[]))

    return build


async def login(client: Any, username: str, password: str, forwarded_for: str) -> int:
    """Log in through a reverse proxy that names the client in X-Forwarded-For; return the HTTP status."""
    client.session.cookie_jar.clear()
    headers = {"X-Forwarded-For": forwarded_for}
    page = await client.get("/admin/login", headers=headers)
    token = CSRF_RE.search(await page.text()).group(1)
    response = await client.post("/admin/login", headers=headers, allow_redirects=False, data={
        "csrf_token": token, "username": username, "password": password, "next": "/admin/"})
    return int(response.status)


async def test_an_attacker_elsewhere_cannot_lock_the_owner_out(client: Any) -> None:
    c = await client()
    statuses = [await login(c, "editor", "wrong-password", ATTACKER) for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert await login(c, "editor", PASSWORDS["editor"], ATTACKER) == 429  # the attacker's client stays locked
    assert await login(c, "editor", PASSWORDS["editor"], OWNER) == 303


async def test_one_client_cannot_lock_every_account(client: Any) -> None:
    c = await client()
    for i in range(20):
        assert await login(c, f"user{i}", "wrong-password", ATTACKER) == 401
    assert await login(c, "viewer", PASSWORDS["viewer"], ATTACKER) == 429
    assert await login(c, "viewer", PASSWORDS["viewer"], OWNER) == 303


async def test_without_a_trusted_proxy_the_header_is_ignored(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TRUSTED_PROXIES", "none")
    c = await client()
    for i in range(5):  # rotating the header does not give the same peer fresh tries
        assert await login(c, "editor", "wrong-password", f"198.51.100.{i}") == 401
    assert await login(c, "editor", PASSWORDS["editor"], "198.51.100.200") == 429


async def test_a_hammered_account_only_slows_down(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_ACCOUNT_SLOWDOWN_FAILURES", "6")
    monkeypatch.setenv("ADMIN_LOGIN_DELAY_S", "0.5")
    c = await client()
    for i in range(6):  # three clients, two tries each: none of them is locked, the account has 6 failures
        assert await login(c, "editor", "wrong-password", f"203.0.113.{i // 2}") == 401
    start = time.monotonic()
    assert await login(c, "editor", PASSWORDS["editor"], OWNER) == 303
    assert time.monotonic() - start >= 0.5


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    ("127.0.0.1", "198.51.100.7", "127.0.0.1", "198.51.100.7"),
    ("127.0.0.1", "1.2.3.4, 198.51.100.7", "127.0.0.1", "198.51.100.7"),  # a forged first hop is skipped
    ("127.0.0.1", "198.51.100.7, 10.0.0.2", "127.0.0.1,10.0.0.0/8", "198.51.100.7"),
    ("127.0.0.1", "not-an-address", "127.0.0.1", "127.0.0.1"),
    ("127.0.0.1", "", "127.0.0.1", "127.0.0.1"),
    ("192.0.2.1", "198.51.100.7", "127.0.0.1", "192.0.2.1"),  # an untrusted peer cannot choose its address
    ("127.0.0.1", "198.51.100.7", "none", "127.0.0.1"),
    ("::1", "2001:db8::7", "", "2001:db8::7"),  # empty: the default, the loopback addresses
])
def test_client_address(peer: str, header: str, trusted: str, expected: str) -> None:
    from admin.auth import client_address

    settings = AdminSettings.from_env({"ADMIN_TRUSTED_PROXIES": trusted})
    request = make_mocked_request("POST", "/admin/login", headers={"X-Forwarded-For": header} if header else {})
    request = request.clone(remote=peer)
    assert client_address(request, settings) == expected


async def test_dashboard_shows_codes_under_attack(client: Any, data_dir: Path) -> None:
    from dossier.verification import CodeAlerts

    code = "000.00.20.H57-240101-0001"
    CodeAlerts(StateDB(data_dir / "dossier_state.db")).raise_alert(code, time.time() + 3600)
    c = await client()
    assert await login(c, "viewer", PASSWORDS["viewer"], OWNER) == 303
    page = await (await c.get("/admin/")).text()
    assert 'id="code-alerts"' in page and code in page


def test_a_malformed_proxy_list_is_named() -> None:
    with pytest.raises(SettingsError, match=re.escape("ADMIN_TRUSTED_PROXIES='10.0.0.0/8, proxy.example': expected")):
        AdminSettings.from_env({"ADMIN_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"})
