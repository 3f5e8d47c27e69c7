"""Fixtures for the security regression tests: the connectors' fakes and a temporary catalogue."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE.parents[1], HERE.parent / "connectors"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point TTHC_DATA_DIR at a temporary directory."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CATALOGUE_DB_URL", raising=False)
    monkeypatch.delenv("GATEWAY_PUSH_TOKEN", raising=False)
    yield tmp_path


@pytest.fixture
async def stack(aiohttp_server: Any, aiohttp_client: Any, data_dir: Path) -> Any:
    """The gateway app against fake Rasa, Telegram and Zalo servers."""
    from connectors_fakes import FakeRasa, FakeTelegram, FakeZalo, Stack, base_url, make_settings

    from connectors.app import create_app

    rasa, tg, zalo = FakeRasa(), FakeTelegram(), FakeZalo()
    rs, ts, zs = (await aiohttp_server(rasa.app()), await aiohttp_server(tg.app()),
                  await aiohttp_server(zalo.app()))
    settings = make_settings(data_dir, base_url(rs), base_url(ts), base_url(zs))
    client = await aiohttp_client(create_app(settings))
    return Stack(rasa, tg, zalo, settings, client)
