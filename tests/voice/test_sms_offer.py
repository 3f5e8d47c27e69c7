"""The documents list by SMS: the caller's number from SIP, the SMS channel's hash, the gateway's push."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.channels.sms import SmsChannel
from connectors.channels.sms_state import SmsState
from connectors.config import GatewaySettings
from connectors.voice.config import VoiceSettings
from connectors.voice.sms_offer import SmsSender, caller_number

NUMBER = "0912345678"


@pytest.mark.parametrize(("header", "number"), [
    ('"Khách" <sip:0912345678@10.0.0.1>;tag=ab', NUMBER),
    ("<sip:+84912345678@carrier.vn;user=phone>;tag=1", NUMBER),
    ("<tel:84912345678>", NUMBER),
    ("<sip:anonymous@anonymous.invalid>;tag=x", ""),
    ("<sip:tthc@127.0.0.1>", ""),
    ("<sip:1234@pbx>", ""),  # an extension, not a phone
    ("", ""),
])
def test_caller_number(header: str, number: str) -> None:
    assert caller_number(header) == number


async def test_send_goes_to_the_sms_channels_sender_with_the_push_token(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    received: list[tuple[str, Any]] = []
    status = {"code": 202}

    async def push(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization", ""), await request.json()))
        return web.json_response({}, status=status["code"])

    app = web.Application()
    app.router.add_post("/internal/push", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    env = {"TTHC_DATA_DIR": str(tmp_path), "TTHC_HASH_KEY": "k" * 32, "GATEWAY_PUSH_TOKEN": "secret-token",
           "GATEWAY_URL": f"http://127.0.0.1:{port}"}
    sender = SmsSender(VoiceSettings.from_env(env))
    try:
        with caplog.at_level(logging.INFO):
            assert await sender.send(NUMBER, "Giấy tờ cho thủ tục X")
        channel = SmsChannel(GatewaySettings.from_env(env))
        expected = f"sms:{channel.number_hash(NUMBER)}"
        body = {"sender": expected, "messages": [{"text": "Giấy tờ cho thủ tục X"}]}
        assert received == [("Bearer secret-token", body)]
        # The channel can now deliver to that hash (as if the number had texted once).
        assert await SmsState(tmp_path / "sms.sqlite3").number(expected.split(":", 1)[1]) == NUMBER
        status["code"] = 422  # SMS channel disabled at the gateway
        assert not await sender.send(NUMBER, "again")
        await runner.cleanup()
        assert not await sender.send(NUMBER, "gateway down")
        assert NUMBER not in caplog.text and "12345678" not in caplog.text
    finally:
        await runner.cleanup()
