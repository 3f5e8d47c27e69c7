# mypy: allow-untyped-defs
"""Fixtures for the connectors tests (fakes live in connectors_fakes.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE.parents[1], HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from connectors_fakes import FakeRasa, FakeTelegram, FakeZalo, Stack, base_url, make_settings  # noqa: E402

from connectors.app import create_app  # noqa: E402


@pytest.fixture
async def fakes(aiohttp_server: Any) -> tuple[FakeRasa, FakeTelegram, FakeZalo, Any, Any, Any]:
    rasa, tg, zalo = FakeRasa(), FakeTelegram(), FakeZalo()
    rs = await aiohttp_server(rasa.app())
    ts = await aiohttp_server(tg.app())
    zs = await aiohttp_server(zalo.app())
    return rasa, tg, zalo, rs, ts, zs



@pytest.fixture
async def stack(fakes: Any, aiohttp_client: Any, tmp_path: Path) -> Stack:
    rasa, tg, zalo, rs, ts, zs = fakes
    settings = make_settings(tmp_path, base_url(rs), base_url(ts), base_url(zs))
    client = await aiohttp_client(create_app(settings))
    return Stack(rasa, tg, zalo, settings, client)


@pytest.fixture
def make_stack(fakes: Any, aiohttp_client: Any, tmp_path: Path) -> Callable[..., Any]:
    """Build a gateway with overridden settings (same data dir each call: restarts keep state)."""

    async def build(**over: Any) -> Stack:
        rasa, tg, zalo, rs, ts, zs = fakes
        settings = make_settings(tmp_path, base_url(rs), base_url(ts), base_url(zs), **over)
        client = await aiohttp_client(create_app(settings))
        return Stack(rasa, tg, zalo, settings, client)

    return build


