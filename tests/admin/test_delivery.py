# mypy: allow-untyped-defs
"""Staff replies go through the push function the console is given, or over HTTP when it runs alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from conftest import Browser

from admin import mount_admin
from admin.config import AdminSettings
from admin.delivery import deliver, http_push
from common.messages import BotMessage, PushRejected
from desk.handoffs import HandoffQueue


class FakePush:
    """Records what the console pushed; raises PushRejected(reason) when told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[BotMessage]]] = []
        self.reason = ""

    async def __call__(self, sender: str, messages: list[BotMessage]) -> None:
        if self.reason:
            raise PushRejected(self.reason)
        self.sent.append((sender, messages))


async def test_handoff_reply_uses_the_given_push(data_dir: Path, aiohttp_client: Any):
    push = FakePush()
    app = web.Application()
    mount_admin(app, data_dir, push=push)
    browser = Browser(await aiohttp_client(app))
    queue = HandoffQueue(data_dir / "handoff.db")
    hid = queue.add("zalo:citizen1", "zalo", [{"from": "user", "text": "gap can bo"}])
    await browser.login("editor")
    push.reason = "channel_disabled"
    refused = await browser.post(f"/admin/handoffs/{hid}/reply", {"text": "Chào anh/chị"})
    assert refused.status == 400 and "Kênh này chưa được bật trên cổng kết nối." in await refused.text()
    assert queue.get(hid)["replies"] == []
    push.reason = ""
    sent = await browser.post(f"/admin/handoffs/{hid}/reply", {"text": "Chào anh/chị"})
    assert sent.status == 303
    assert push.sent == [("zalo:citizen1", [BotMessage("Chào anh/chị")])]


async def _gateway(aiohttp_server: Any, status: int) -> tuple[Any, list[Any]]:
    """A stand-in gateway whose /internal/push answers ``status`` and records what it got."""
    received: list[Any] = []

    async def push(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({}, status=status)

    app = web.Application()
    app.router.add_post("/internal/push", push)
    return await aiohttp_server(app), received


@pytest.mark.parametrize(("status", "error"), [
    (202, None),
    (422, "Kênh này chưa được bật trên cổng kết nối."),
    (401, "Cổng kết nối từ chối (HTTP 401)."),
])
async def test_http_push_maps_gateway_answers(aiohttp_server: Any, status: int, error: str | None):
    server, received = await _gateway(aiohttp_server, status)
    url = str(server.make_url("")).rstrip("/")
    settings = AdminSettings.from_env({"GATEWAY_URL": url, "GATEWAY_PUSH_TOKEN": "secret"})
    assert await deliver(http_push(settings), "tg:12345", "xin chào") == error
    assert received == [("Bearer secret", {"sender": "tg:12345", "messages": [{"text": "xin chào"}]})]


async def test_http_push_without_a_gateway_or_with_a_bad_sender(unused_tcp_port: int):
    push = http_push(AdminSettings.from_env({"GATEWAY_URL": f"http://127.0.0.1:{unused_tcp_port}"}))
    with pytest.raises(PushRejected) as refused:
        await push("tg:12345", [BotMessage("a")])
    assert refused.value.reason == "unavailable"
    assert await deliver(push, "tg:12345", "a") == "Không kết nối được cổng kết nối."
    assert await deliver(push, "call:abc", "a") == "Kênh này không nhận được tin nhắn chủ động."
    with pytest.raises(PushRejected) as invalid:
        await push("call:abc", [BotMessage("a")])
    assert invalid.value.reason == "invalid_sender"
