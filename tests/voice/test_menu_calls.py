"""The keypad-first menu over real SIP/RTP (our test phone): keys, chunks, the SMS offer, the operator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from conftest import VoiceRig
from procedures import BIRTH, PROCEDURES
from sipclient import TestPhone
from test_calls import wait_for

from connectors.voice.catalogue import ProcedureMatcher
from connectors.voice.menu import ASK_PROCEDURE, SMS_SENT
from connectors.voice.menu import MENU_TEXT as MENU_WRITTEN
from connectors.voice.normalize import render_for_speech
from connectors.voice.sms_offer import SmsSender

NUMBER = "0912345678"
MENU_TEXT = render_for_speech(MENU_WRITTEN)  # what is spoken: "Nhấn phím một …"


async def push_server(received: list[dict[str, Any]]) -> tuple[web.AppRunner, str]:
    """Stands in for the gateway's /internal/push (the SMS channel behind it is tested in tests/sms)."""

    async def push(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"queued": 1}, status=202)

    app = web.Application()
    app.router.add_post("/internal/push", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


def spoken(rig: VoiceRig) -> list[str]:
    """Every sentence the gateway has spoken so far in the (only) call."""
    return [s for t in rig.gateway.records[0].turns for s in t.spoken] if rig.gateway.records else []


async def test_keypad_menu_chunks_sms_and_operator(make_rig, tmp_path: Path) -> None:
    pushes: list[dict[str, Any]] = []
    runner, url = await push_server(pushes)
    rig: VoiceRig = await make_rig(matcher=ProcedureMatcher(PROCEDURES), menu=True, gateway_url=url,
                                   push_token="tok", hash_key="k" * 32, data_dir=tmp_path, dtmf_button_wait_s=0.3)
    phone = TestPhone(rig.gateway.local_port, user=NUMBER)
    await phone.open()
    try:
        phone.invite()
        assert (await phone.final()).status == 200
        await wait_for(lambda: MENU_TEXT in spoken(rig), 10, "the menu")
        assert rig.rasa.received == []  # the menu is the gateway's: no /greet

        await phone.keys("2")
        await wait_for(lambda: rig.rasa.messages() == ["tra cứu hồ sơ"], 10, "status request at the bot")
        await phone.keys("*")
        await wait_for(lambda: spoken(rig).count(MENU_TEXT) == 2, 10, "the menu again")
        await phone.keys("1")
        await wait_for(lambda: ASK_PROCEDURE in spoken(rig), 10, "ask for the procedure")
        await phone.keys("1001193#")  # the procedure's code on the keypad
        await wait_for(lambda: "Thủ tục đăng ký khai sinh." in spoken(rig), 10, "the short answer")
        record = rig.gateway.records[0]
        answer = record.turns[-1]
        await wait_for(lambda: any("cần chuẩn bị. Nhấn phím chín" in s for s in answer.spoken), 10, "the offer")
        assert answer.source == "dtmf" and answer.latency is not None and answer.state == "answered"

        await phone.keys("1")
        await wait_for(lambda: any(s.startswith("Giấy tờ thứ ba,") for s in spoken(rig)), 10, "first chunk")
        assert not any(s.startswith("Giấy tờ thứ bốn,") for s in spoken(rig))
        await phone.keys("3")  # skip to the next chunk
        await wait_for(lambda: any(s.startswith("Giấy tờ thứ bốn,") for s in spoken(rig)), 10, "second chunk")
        await phone.keys("2")  # repeat it
        await wait_for(lambda: sum(s.startswith("Giấy tờ thứ bốn,") for s in spoken(rig)) == 2, 10, "repeat")

        await phone.keys("9")
        await wait_for(lambda: SMS_SENT in spoken(rig), 10, "SMS confirmation")
        sender = SmsSender(rig.settings).sender(NUMBER)
        assert len(pushes) == 1 and pushes[0]["sender"] == sender
        text = pushes[0]["messages"][0]["text"]
        assert text.startswith(f"Giấy tờ cho thủ tục {BIRTH.title} (mã {BIRTH.code}):")
        await phone.keys("9")  # one SMS per call
        await asyncio.sleep(1.0)
        assert len(pushes) == 1

        await phone.keys("0")
        await wait_for(lambda: rig.rasa.messages()[-1:] == ["/request_human"], 10, "operator request")
        assert record.dtmf == "2*11001193#13299" + "0"
    finally:
        await phone.close()
        await runner.cleanup()


async def test_the_menu_without_a_catalogue_hands_procedures_to_the_bot(make_rig) -> None:
    rig: VoiceRig = await make_rig(matcher=None, menu=True, dtmf_button_wait_s=0.3)
    phone = TestPhone(rig.gateway.local_port)
    await phone.open()
    try:
        phone.invite()
        assert (await phone.final()).status == 200
        await wait_for(lambda: MENU_TEXT in spoken(rig), 10, "the menu")
        await phone.keys("1")
        await wait_for(lambda: rig.rasa.messages() == ["thủ tục hành chính"], 10, "the bot asked")
        await phone.keys("9")  # no SMS offer without a known number
        await asyncio.sleep(1.0)
        assert not any("tin nhắn" in s for s in spoken(rig))
    finally:
        await phone.close()
