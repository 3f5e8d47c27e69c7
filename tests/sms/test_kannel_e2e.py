# mypy: allow-untyped-defs
"""End to end through real Kannel: fake SMSC (Kannel's line protocol) → bearerbox → smsbox → gateway → Rasa.

Rasa is faked, but HS payloads run the project's real dossier form and check action over a seeded
one-stop DB, so the phone-number second factor is checked by the real action code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kannel_harness import SECRET, FakeSmsc, Kannel, free_port, kannel_available
from sms_fakes import SmsRasa, sms_settings

from connectors.app import create_app
from connectors.channels.sms import SmsChannel
from connectors.gateway import GATEWAY_KEY, Gateway
from dossier.seed import DEMO_CODE, DEMO_PHONE

pytestmark = pytest.mark.skipif(not kannel_available(), reason="Debian kannel not installed (requirements/apt.txt)")
OTHER_PHONE = "0987000111"


@dataclass
class SmsStack:
    rasa: SmsRasa
    kannel: Kannel
    smsc: FakeSmsc
    gateway: Gateway
    url: str

    @property
    def channel(self) -> SmsChannel:
        channel = self.gateway.channels["sms"]
        assert isinstance(channel, SmsChannel)
        return channel


async def until(cond: Callable[[], bool], timeout: float = 20.0, show: Any = None) -> None:
    """Poll ``cond``; fail after ``timeout`` seconds (generous: a loaded 2-core machine)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached: {show() if show else ''}")
        await asyncio.sleep(0.02)


async def settle(smsc: FakeSmsc, quiet: float = 0.6, timeout: float = 20.0) -> None:
    """Wait until no MT has arrived for ``quiet`` seconds (every part of the last reply is in)."""
    deadline = time.monotonic() + timeout
    count, since = len(smsc.mt), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
        if len(smsc.mt) != count:
            count, since = len(smsc.mt), time.monotonic()


@pytest.fixture
async def sms(request: Any, tmp_path: Path, aiohttp_server: Any, domain: dict[str, Any],
              dossier_services_installed: Any) -> AsyncIterator[SmsStack]:
    rasa = SmsRasa(domain)
    rasa_server = await aiohttp_server(rasa.app())
    gateway_port = free_port()
    kannel = Kannel(tmp_path, gateway_port)
    settings = sms_settings(tmp_path / "gw", str(rasa_server.make_url("")).rstrip("/"),
                            sms_sendsms_url=kannel.sendsms_url, sms_dlr_base_url=f"http://127.0.0.1:{gateway_port}",
                            sms_ucs2=getattr(request, "param", False))
    app = create_app(settings)
    await aiohttp_server(app, port=gateway_port)
    await asyncio.to_thread(kannel.start_bearerbox)
    await asyncio.to_thread(kannel.start_smsbox)
    smsc = FakeSmsc(kannel.smsc_port)
    await smsc.connect()
    await asyncio.to_thread(kannel.wait_ready)
    try:
        yield SmsStack(rasa, kannel, smsc, app[GATEWAY_KEY], f"http://127.0.0.1:{gateway_port}")
    finally:
        await smsc.close()
        await asyncio.to_thread(kannel.stop_all)


async def test_hs_code_from_the_dossier_phone_gets_the_status(sms: SmsStack) -> None:
    await sms.smsc.send_mo(DEMO_PHONE, "hs " + DEMO_CODE.lower())
    await until(lambda: len(sms.smsc.to(DEMO_PHONE)) >= 1)
    await settle(sms.smsc)
    replies = sms.smsc.to(DEMO_PHONE)
    assert 1 <= len(replies) <= 2
    assert f"Ho so {DEMO_CODE}" in replies[0]
    assert all(len(r) <= 160 and r.isascii() for r in replies)
    call = sms.rasa.calls[0]
    assert call["sender"].startswith("sms:") and DEMO_PHONE[1:] not in str(call)
    assert call["message"].startswith("/check_status{")
    if len(replies) == 2 and "XEM THEM" in replies[1]:
        await sms.smsc.send_mo(DEMO_PHONE, "xem thêm")
        await until(lambda: len(sms.smsc.to(DEMO_PHONE)) >= 3)
        assert "Tinh trang" in " ".join(sms.smsc.to(DEMO_PHONE))
    assert len(sms.rasa.calls) == 1


async def test_hs_code_from_another_phone_asks_for_the_digits(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "HS " + DEMO_CODE)
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    assert "4 so cuoi" in sms.smsc.to(OTHER_PHONE)[0]
    assert DEMO_CODE not in " ".join(sms.smsc.to(OTHER_PHONE))


async def test_unaccented_question_short_answer_and_numbered_options(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "lam giay khai sinh can gi")
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    await settle(sms.smsc)
    replies = sms.smsc.to(OTHER_PHONE)
    assert 1 <= len(replies) <= 2
    assert sms.rasa.texts() == ["lam giay khai sinh can gi"]
    assert replies[0].startswith("Da, de lam giay khai sinh (thu tuc 1.001193)")
    assert all(len(r) <= 160 and r.isascii() for r in replies)
    await sms.smsc.send_mo(OTHER_PHONE, "xem them")
    await until(lambda: any("Tra loi 1 hoac 2" in r for r in sms.smsc.to(OTHER_PHONE)),
                show=lambda: sms.smsc.mt)
    assert "1. Le phi" in " ".join(sms.smsc.to(OTHER_PHONE))
    await sms.smsc.send_mo(OTHER_PHONE, "1")
    await until(lambda: len(sms.rasa.calls) == 2)
    assert sms.rasa.texts()[1] == '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}'


async def test_duplicate_mo_gets_one_reply(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "TT le phi cap doi CCCD")
    await sms.smsc.send_mo(OTHER_PHONE, "TT le phi cap doi CCCD")
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    await until(lambda: 'tthc_gateway_messages_total{channel="sms",direction="duplicate"} 1'
                in sms.gateway.metrics.render())
    await settle(sms.smsc)
    assert sms.rasa.texts() == ["le phi cap doi CCCD"]
    first_reply = sms.smsc.to(OTHER_PHONE)
    assert len(first_reply) <= 2


async def test_2000_character_mo_is_answered_politely(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "thu tuc " * 250)
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    replies = sms.smsc.to(OTHER_PHONE)
    assert "dai qua" in replies[0] and len(replies) <= 2
    assert sms.rasa.calls == []


async def test_kannel_down_replies_wait_in_the_outbox(sms: SmsStack) -> None:
    await asyncio.to_thread(sms.kannel.stop, "smsbox")
    async with aiohttp.ClientSession() as http:  # the call smsbox makes for an MO, made while Kannel is down
        params = {"secret": SECRET, "from": OTHER_PHONE, "to": "8088", "text": "lam ho chieu", "id": "mo-1"}
        async with http.get(f"{sms.url}/sms/kannel/mo", params=params) as resp:
            assert resp.status == 200
    await until(lambda: len(sms.rasa.calls) == 1)
    pending: dict[str, float] = {}

    async def waiting() -> bool:
        pending.update(await sms.gateway.store.pending_counts())
        return pending.get("sms", 0) >= 1

    deadline = time.monotonic() + 20
    while not await waiting():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    assert sms.smsc.to(OTHER_PHONE) == []
    assert (await sms.gateway.store.pending_counts()).get("sms", 0) >= 1
    await asyncio.to_thread(sms.kannel.start_smsbox)
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1, timeout=30)
    assert sms.smsc.to(OTHER_PHONE)[0].startswith("Da, de lam giay khai sinh")


async def test_delivery_reports_are_tracked(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "TT giay khai sinh")
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    store = sms.channel.state
    statuses: list[int] = []
    deadline = time.monotonic() + 20
    while 1 not in statuses:
        assert time.monotonic() < deadline, statuses
        statuses = await asyncio.to_thread(_statuses, store.db.path)
        await asyncio.sleep(0.05)


def _statuses(path: Path) -> list[int]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return [int(r[0]) for r in conn.execute("SELECT status FROM dlr")]


async def test_status_notification_reaches_a_subscribed_number_by_sms(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "TT giay khai sinh")
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    await settle(sms.smsc)
    before = len(sms.smsc.to(OTHER_PHONE))
    sender = sms.rasa.calls[0]["sender"]
    push = {"sender": sender, "messages": [{"text": f"Hồ sơ {DEMO_CODE} vừa được cập nhật: Đã có kết quả.",
                                            "buttons": [{"title": "Xem chi tiết", "payload": "/check_status"}]}]}
    auth = {"Authorization": f"Bearer {sms.gateway.settings.push_bearer()}"}
    async with aiohttp.ClientSession() as http, http.post(f"{sms.url}/internal/push", json=push, headers=auth) as resp:
        assert resp.status == 202, await resp.text()
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) > before)
    assert sms.smsc.to(OTHER_PHONE)[before].startswith(f"Ho so {DEMO_CODE} vua duoc cap nhat: Da co ket qua.")


@pytest.mark.parametrize("sms", [True], indirect=True)
async def test_ucs2_setting_sends_vietnamese_with_diacritics(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "Làm giấy khai sinh cần gì?")
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    await settle(sms.smsc)
    replies = sms.smsc.to(OTHER_PHONE, "utf-16-be")
    assert sms.rasa.texts() == ["Làm giấy khai sinh cần gì?"]
    assert replies[0].startswith("Dạ, để làm giấy khai sinh") and len(replies) == 2
    assert all(len(r) <= 70 for r in replies) and replies[1].endswith("(Nhắn XEM THEM để đọc tiếp)")


async def test_huy_stops_notifications(sms: SmsStack) -> None:
    await sms.smsc.send_mo(OTHER_PHONE, "Hủy")
    await until(lambda: len(sms.smsc.to(OTHER_PHONE)) >= 1)
    assert sms.rasa.texts() == ["/unsubscribe_status"]
    assert sms.smsc.to(OTHER_PHONE) == ["Da, em da dung gui thong bao ho so cho anh/chi."]
