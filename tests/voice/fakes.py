"""Test doubles for the voice tests: a fake Rasa REST server on 127.0.0.1 and canned replies."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

GREETING = "Xin chào, em là trợ lý thủ tục hành chính. Anh/chị cần hỏi gì ạ?"
ANSWER = "Dạ, em đã nghe câu hỏi của anh/chị. Lệ phí là 50.000 đồng."
CODE_ASK = "Anh/chị vui lòng cho em 4 số cuối của số điện thoại đã khai trong hồ sơ."
STATUS = (
    "Hồ sơ 000.00.20.H57-240101-0001 đang được xử lý 😊, ngày hẹn trả 15/12/2024. "
    "Chi tiết tại https://dichvucong.gov.vn"
)
HANDOFF = "Dạ, em xin chuyển cuộc gọi tới tổng đài viên. Anh/chị vui lòng giữ máy."
MENU = "Anh/chị muốn biết thông tin gì về thủ tục 1.001193?"
MENU_BUTTONS = [
    {"title": "Lệ phí", "payload": '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}'},
    {"title": "Hồ sơ cần nộp", "payload": '/ask_procedure{"procedure_code":"1.001193","facet":"documents"}'},
]
FEE = "Lệ phí đăng ký khai sinh là 8.000 đồng."
CODE_RE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[GH]\d{2}-\d{6}-\d{4}$")


def canned_reply(message: str) -> list[dict[str, Any]]:
    """What the fake bot answers (mirrors the shape of Rasa's REST channel output)."""
    text = message.strip()
    if text == "/greet":
        return [{"text": GREETING}]
    if CODE_RE.search(text):
        return [{"text": CODE_ASK}]
    if re.fullmatch(r"\d{4}", text):
        return [{"text": STATUS}]
    if "facet\":\"fee" in text:
        return [{"text": FEE}]
    if text in ("/menu", "menu"):
        return [{"text": MENU, "buttons": MENU_BUTTONS}]
    if text == "/request_human" or "tổng đài viên" in text.lower() or "gặp người" in text.lower():
        return [{"text": HANDOFF}, {"custom": {"handoff": True}}]
    return [{"text": ANSWER}]


class FakeRasa:
    """Records every REST message; replies with ``canned_reply`` (or an override)."""

    def __init__(self) -> None:
        """Nothing received yet."""
        self.received: list[dict[str, Any]] = []
        self.override: dict[str, list[dict[str, Any]]] = {}
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /webhooks/rest/webhook."""
        body = await request.json()
        self.received.append(body)
        message = str(body.get("message", ""))
        return web.json_response(self.override.get(message) or canned_reply(message))

    async def start(self) -> str:
        """Serve on a free 127.0.0.1 port; return the base URL."""
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self.runner is not None:
            await self.runner.cleanup()

    def messages(self, sender: str | None = None) -> list[str]:
        """Texts received (optionally for one sender)."""
        return [str(b["message"]) for b in self.received if sender is None or b.get("sender") == sender]
