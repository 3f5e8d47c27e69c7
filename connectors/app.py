"""The connectors gateway: web chat, Telegram and Zalo webhooks, pushes, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from common.messages import BUSY_TEXT, PUSH_SENDER_RE, BotMessage, parse_message
from common.rasa import RasaClient, RasaUnavailable, log_rasa_failure
from common.text import mask_pii, nfc
from connectors.config import Settings
from connectors.dispatch import SenderQueues
from connectors.metrics import Metrics
from connectors.outbox import Outbox
from connectors.store import Store

log = logging.getLogger("connectors")
STATIC_DIR = Path(__file__).resolve().parent / "static"
WEB_SENDER_RE = re.compile(r"^web:[A-Za-z0-9_-]{8,64}$")
MAX_PUSH_MESSAGES = 20
MAX_PUSH_TEXT = 10000


class Channel(Protocol):
    """A messaging channel served by the gateway (Telegram, Zalo)."""

    name: str
    prefix: str

    async def start(self, gateway: Gateway) -> None:
        """Prepare clients; must not fail when the remote API is unreachable."""

    async def close(self) -> None:
        """Release clients."""

    def add_routes(self, app: web.Application) -> None:
        """Register webhook routes."""

    async def render(self, recipient: str, message: BotMessage) -> list[dict[str, Any]]:
        """Turn one bot message into the channel's API calls (outbox payloads)."""

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Perform one API call (see connectors.outbox)."""


def error_json(status: int, code: str, message: str = "") -> web.Response:
    """Build a JSON error response (never a stack trace)."""
    body: dict[str, Any] = {"error": code}
    if message:
        body["message"] = message
    return web.json_response(body, status=status)


async def read_json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """Read a JSON object body, or return the 4xx response to send."""
    if request.content_type != "application/json":
        return error_json(415, "unsupported_media_type", "Content-Type phải là application/json.")
    raw = await request.read()
    if not raw.strip():
        return error_json(400, "empty_body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error_json(400, "invalid_json")
    if not isinstance(data, dict):
        return error_json(400, "invalid_json", "expected a JSON object")
    return data


class Gateway:
    """Shared state of the gateway process."""

    def __init__(self, settings: Settings, channels: list[Channel] | None = None) -> None:
        """Wire the components; nothing touches the network or disk until ``start``."""
        self.settings = settings
        self.metrics = Metrics()
        self.store = Store(settings.db_path)
        self.queues = SenderQueues()
        self.outbox = Outbox(
            self.store,
            self.metrics,
            settings.outbox_max_attempts,
            settings.outbox_max_age_s,
            settings.outbox_retry_base_s,
        )
        self.channels: dict[str, Channel] = {c.prefix: c for c in (channels or [])}
        self.session: aiohttp.ClientSession | None = None
        self.rasa: RasaClient | None = None
        self._pending_counts: dict[str, float] = {}
        self._bg: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Open the store and clients, start channels and the outbox worker."""
        await self.store.open()
        self.session = aiohttp.ClientSession()
        self.rasa = RasaClient(
            self.settings.rasa_url, self.settings.rasa_timeout, self.session, self.metrics.rasa_latency.observe
        )
        self.metrics.gauge(
            "tthc_gateway_outbox_pending",
            "Outbox items waiting to be delivered.",
            lambda: self._pending_counts,
        )
        for channel in self.channels.values():
            await channel.start(self)
            self.outbox.register(channel)
        self.outbox.start()
        self.spawn(self._housekeeping())

    async def close(self) -> None:
        """Stop everything; queued outbox items stay in SQLite."""
        for task in list(self._bg):
            task.cancel()
        await asyncio.gather(*self._bg, return_exceptions=True)
        try:
            await asyncio.wait_for(self.queues.drain(), timeout=10)
        except asyncio.TimeoutError:
            log.warning("shutdown: some user messages were still being processed")
        await self.queues.close()
        await self.outbox.close()
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close()
        if self.session is not None:
            await self.session.close()
        await self.store.close()
        log.info("gateway stopped")

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)
        return task

    async def _housekeeping(self) -> None:
        """Forget old delivery ids once an hour."""
        while True:
            try:
                await self.store.prune_seen(30 * 86400)
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(3600)

    async def ask_rasa(self, sender: str, text: str, channel: str) -> list[BotMessage]:
        """Forward a user message; on failure return the polite busy message."""
        assert self.rasa is not None
        self.metrics.messages.inc(channel=channel, direction="in")
        try:
            return await self.rasa.send(sender, nfc(text), channel)
        except RasaUnavailable as exc:
            self.metrics.errors.inc(kind="rasa_unavailable")
            log_rasa_failure(channel, sender, exc)
            return [BotMessage(BUSY_TEXT)]

    async def reply(self, channel: Channel, recipient: str, messages: list[BotMessage]) -> None:
        """Render messages for a channel and queue them in the outbox."""
        payloads: list[dict[str, Any]] = []
        for message in messages:
            payloads += await channel.render(recipient, message)
        await self.outbox.enqueue(channel.name, recipient, payloads)

    def converse(self, channel: Channel, recipient: str, text: str) -> None:
        """Queue a user message behind the sender's earlier ones; reply through the outbox."""
        sender = f"{channel.prefix}:{recipient}"

        async def job() -> None:
            messages = await self.ask_rasa(sender, text, channel.name)
            await self.reply(channel, recipient, messages)

        self.queues.submit(sender, job)

    def notify(self, channel: Channel, recipient: str, messages: list[BotMessage]) -> None:
        """Queue a reply that does not come from Rasa, keeping the sender's order."""
        sender = f"{channel.prefix}:{recipient}"
        self.queues.submit(sender, lambda: self.reply(channel, recipient, messages))

    # --- HTTP handlers -------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        """Liveness plus Rasa reachability and enabled channels."""
        assert self.rasa is not None
        rasa_ok = await self.rasa.reachable()
        with contextlib.suppress(Exception):
            self._pending_counts = await self.store.pending_counts()
        return web.json_response(
            {
                "status": "ok" if rasa_ok else "degraded",
                "rasa": {"url": self.settings.rasa_url, "reachable": rasa_ok},
                "channels": {
                    "web": True,
                    "telegram": "tg" in self.channels,
                    "zalo": "zalo" in self.channels,
                },
                "outbox_pending": int(sum(self._pending_counts.values())),
            }
        )

    async def metrics_handler(self, request: web.Request) -> web.Response:
        """Prometheus text exposition."""
        with contextlib.suppress(Exception):
            self._pending_counts = await self.store.pending_counts()
        for ch in self.channels.values():
            self._pending_counts.setdefault(ch.name, 0.0)
        return web.Response(
            text=self.metrics.render(),
            content_type="text/plain",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    async def index(self, request: web.Request) -> web.FileResponse:
        """Serve the web chat page."""
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def web_chat(self, request: web.Request) -> web.Response:
        """Web chat: one user message in, the bot's messages out."""
        data = await read_json_object(request)
        if isinstance(data, web.Response):
            return data
        sender, message = data.get("sender"), data.get("message")
        if not isinstance(sender, str) or not WEB_SENDER_RE.match(sender):
            return error_json(400, "invalid_sender")
        if not isinstance(message, str) or not message.strip():
            return error_json(400, "empty_message", "Anh/chị vui lòng nhập nội dung tin nhắn.")
        limit = self.settings.web_max_chars
        if len(message) > limit:
            return error_json(
                413,
                "message_too_long",
                f"Tin nhắn dài quá {limit:,} ký tự".replace(",", ".")
                + ", anh/chị vui lòng rút gọn hoặc chia thành nhiều tin nhé.",
            )
        fut = self.queues.submit(sender, lambda: self.ask_rasa(sender, message.strip(), "web"))
        messages: list[BotMessage] = await fut
        self.metrics.messages.inc(amount=len(messages), channel="web", direction="out")
        return web.json_response({"messages": [m.to_json() for m in messages]})

    async def web_poll(self, request: web.Request) -> web.Response:
        """Web chat: pushed messages waiting for this sender."""
        sender = request.query.get("sender", "")
        if not WEB_SENDER_RE.match(sender):
            return error_json(400, "invalid_sender")
        messages = await self.store.pop_web(sender)
        return web.json_response({"messages": messages})

    def _push_authorized(self, request: web.Request) -> bool:
        """Bearer token when configured; otherwise loopback callers only."""
        token = self.settings.push_token
        if token:
            given = request.headers.get("Authorization", "")
            return hmac.compare_digest(given.encode("utf-8"), f"Bearer {token}".encode())
        return request.remote in ("127.0.0.1", "::1")

    async def push(self, request: web.Request) -> web.Response:
        """Proactive messages (e.g. dossier status changes) routed by the sender prefix."""
        if not self._push_authorized(request):
            log.warning("push rejected from %s", request.remote)
            return error_json(401 if self.settings.push_token else 403, "unauthorized")
        data = await read_json_object(request)
        if isinstance(data, web.Response):
            return data
        sender, raw = data.get("sender"), data.get("messages")
        if not isinstance(sender, str) or not PUSH_SENDER_RE.match(sender):
            return error_json(400, "invalid_sender")
        if not isinstance(raw, list) or not 0 < len(raw) <= MAX_PUSH_MESSAGES:
            return error_json(400, "invalid_messages")
        messages: list[BotMessage] = []
        for item in raw:
            msg = parse_message(item)
            if msg is None or len(msg.text) > MAX_PUSH_TEXT:
                return error_json(400, "invalid_messages")
            messages.append(msg)
        prefix, _, recipient = sender.partition(":")
        if prefix == "web":
            await self.store.push_web(sender, [m.to_json() for m in messages])
        else:
            channel = self.channels.get(prefix)
            if channel is None:
                return error_json(422, "channel_disabled")
            self.notify(channel, recipient, messages)
        self.metrics.messages.inc(amount=len(messages), channel=prefix, direction="push")
        log.info("push of %d message(s) to %s", len(messages), mask_pii(sender))
        return web.json_response({"queued": len(messages)}, status=202)


GATEWAY_KEY = web.AppKey("gateway", Gateway)


@web.middleware
async def observe(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count requests by route and status; turn unexpected errors into a plain 500."""
    gateway = request.app[GATEWAY_KEY]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    start = time.perf_counter()
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        resp = error_json(exc.status, exc.reason.lower().replace(" ", "_"))
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                resp.headers[name] = exc.headers[name]
        return resp
    except Exception:
        gateway.metrics.errors.inc(kind="http_handler")
        log.exception("unhandled error on %s", route)
        return error_json(500, "internal_error")
    finally:
        gateway.metrics.requests.inc(route=route, status=str(status))
        log.debug("%s %s %s %.1fms", request.method, route, status, (time.perf_counter() - start) * 1000)


def create_app(settings: Settings, channels: list[Channel] | None = None) -> web.Application:
    """Build the aiohttp application (channels default to those with credentials)."""
    if channels is None:
        channels = default_channels(settings)
    gateway = Gateway(settings, channels)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[observe])
    app[GATEWAY_KEY] = gateway
    app.router.add_get("/health", gateway.health)
    app.router.add_get("/metrics", gateway.metrics_handler)
    app.router.add_get("/", gateway.index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    app.router.add_post("/api/chat", gateway.web_chat)
    app.router.add_get("/api/chat/poll", gateway.web_poll)
    app.router.add_post("/internal/push", gateway.push)
    for channel in gateway.channels.values():
        channel.add_routes(app)
    from admin import mount_admin  # imported here: the console imports this module

    mount_admin(app, gateway, settings.data_dir)

    async def on_startup(app: web.Application) -> None:
        await gateway.start()

    async def on_cleanup(app: web.Application) -> None:
        await gateway.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def default_channels(settings: Settings) -> list[Channel]:
    """Channels that have credentials; each disabled one gets one log line."""
    channels: list[Channel] = []
    if settings.telegram_enabled:
        from connectors.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(settings))
    else:
        log.info("telegram disabled: set TELEGRAM_TOKEN and TELEGRAM_SECRET to enable it")
    if settings.zalo_enabled:
        from connectors.channels.zalo import ZaloChannel

        channels.append(ZaloChannel(settings))
    else:
        log.info("zalo disabled: set ZALO_APP_ID, ZALO_APP_SECRET and ZALO_OA_SECRET_KEY to enable it")
    return channels
