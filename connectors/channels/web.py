"""The web chat: the page, one user message in and the bot's messages out, and polling for pushes."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from common.messages import BotMessage
from connectors.channels.base import GatewayPort
from connectors.http import error_json, read_json_object
from connectors.limits import FLOOD_TEXT

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
WEB_SENDER_RE = re.compile(r"^web:[A-Za-z0-9_-]{8,64}\Z")
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
            "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}")


class WebChat:
    """Serves ``/``, ``/static/``, ``/api/chat`` and ``/api/chat/poll``; answers come back in the response."""

    name = "web"

    def __init__(self, gateway: GatewayPort, max_chars: int, frame_ancestors: str = "'self'",
                 per_minute: int = 30) -> None:
        """Answer through ``gateway``; refuse messages over ``max_chars`` or ``per_minute``; framable as given."""
        self.gateway = gateway
        self.max_chars, self.per_minute = max_chars, per_minute
        self.page_headers = {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": PAGE_CSP.format(ancestors=frame_ancestors.strip() or "'none'"),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    def add_routes(self, app: web.Application) -> None:
        """Register the page, its static files and the chat API."""
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC_DIR, show_index=False)
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/chat/poll", self.poll)

    async def index(self, request: web.Request) -> web.FileResponse:
        """Serve the web chat page."""
        return web.FileResponse(STATIC_DIR / "index.html", headers=self.page_headers)

    async def chat(self, request: web.Request) -> web.Response:
        """One user message in, the bot's messages out (in the sender's order)."""
        data = await read_json_object(request)
        if isinstance(data, web.Response):
            return data
        sender, message = data.get("sender"), data.get("message")
        if not isinstance(sender, str) or not WEB_SENDER_RE.match(sender):
            return error_json(400, "invalid_sender")
        if not isinstance(message, str) or not message.strip():
            return error_json(400, "empty_message", "Anh/chị vui lòng nhập nội dung tin nhắn.")
        if len(message) > self.max_chars:
            return error_json(
                413,
                "message_too_long",
                f"Tin nhắn dài quá {self.max_chars:,} ký tự".replace(",", ".")
                + ", anh/chị vui lòng rút gọn hoặc chia thành nhiều tin nhé.",
            )
        gw = self.gateway
        if not gw.admit(sender):
            return error_json(429, "too_many_messages", FLOOD_TEXT)
        if not await gw.store.count_arrival(self.name, sender, self.per_minute):
            gw.refused(sender, "rate")  # over the minute's limit counted by every replica together
            return error_json(429, "too_many_messages", FLOOD_TEXT)
        text = message.strip()
        messages: list[BotMessage] = await gw.in_order(sender, lambda: gw.ask_rasa(sender, text, self.name))
        gw.metrics.messages.inc(amount=len(messages), channel=self.name, direction="out")
        return web.json_response({"messages": [m.to_json() for m in messages]})

    async def poll(self, request: web.Request) -> web.Response:
        """Pushed messages waiting for this sender."""
        sender = request.query.get("sender", "")
        if not WEB_SENDER_RE.match(sender):
            return error_json(400, "invalid_sender")
        messages = await self.gateway.store.pop_web(sender)
        return web.json_response({"messages": messages})
