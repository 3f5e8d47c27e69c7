"""The gateway core: ask Rasa, reply through the outbox in each sender's order, push, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from common.messages import (
    BUSY_TEXT,
    PUSH_SENDER_RE,
    BotMessage,
    PushRejected,
    parse_message,
    replies_to,
)
from common.rasa import RasaClient, RasaUnavailable, log_rasa_failure
from common.rasa_api import RasaEvents, TrackerUnavailable
from common.text import mask_pii, nfc
from connectors.channels.base import ChatChannel
from connectors.config import GatewaySettings
from connectors.dispatch import Job, SenderQueues
from connectors.handover import HandoverRouter
from connectors.http import error_json, read_json_object
from connectors.inbox import Inbox
from connectors.limits import FLOOD_TEXT, SenderLimiter
from connectors.metrics import Metrics
from connectors.outbox import Outbox
from connectors.store import INBOX_ITEM, PUSH_KEY, InboxItem, Store

log = logging.getLogger("connectors")
MAX_PUSH_MESSAGES = 20
MAX_PUSH_TEXT = 10000
PUSH_STATUS = {"invalid_sender": 400, "channel_disabled": 422}


class Gateway:
    """Shared state of the gateway process; satisfies ``connectors.channels.base.GatewayPort``."""

    def __init__(self, settings: GatewaySettings, channels: list[ChatChannel] | None = None) -> None:
        """Wire the components; nothing touches the network or disk until ``start``."""
        self.settings = settings
        self.metrics = Metrics()
        self.store = Store(settings.gateway_db, lease_s=settings.lease_s)
        self.queues = SenderQueues()
        self.limiter = SenderLimiter(settings.sender_max_per_minute, settings.sender_max_queued)
        self.outbox = Outbox(
            self.store,
            self.metrics,
            settings.outbox_max_attempts,
            settings.outbox_max_age_s,
            settings.outbox_retry_base_s,
        )
        self.inbox = Inbox(self.store, self.metrics, self.in_order)
        self.channels: dict[str, ChatChannel] = {c.prefix: c for c in (channels or [])}
        self.handover = HandoverRouter(settings.data_dir / "live.db")
        self.session: aiohttp.ClientSession | None = None
        self.rasa: RasaClient | None = None
        self.events: RasaEvents | None = None
        self._pending_counts: dict[str, float] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self.push_token = ""  # read (or generated) at start

    async def start(self) -> None:
        """Open the store and clients, start channels and the outbox worker."""
        await self.store.open()
        self.push_token = await asyncio.to_thread(self.settings.push_bearer)
        self.session = aiohttp.ClientSession()
        self.rasa = RasaClient(
            self.settings.rasa_url, self.settings.rasa_timeout, self.session, self.metrics.rasa_latency.observe
        )
        token = await asyncio.to_thread(self.settings.rasa_api_token)
        self.events = RasaEvents(self.settings.rasa_url, token, self.settings.rasa_timeout, self.session)
        self.handover.bind(self.rasa, self.events, self.push_messages)
        self.handover.register(self.metrics)
        self.metrics.gauge(
            "tthc_gateway_outbox_pending",
            "Outbox items waiting to be delivered.",
            lambda: self._pending_counts,
        )
        for channel in self.channels.values():
            await channel.start(self)
            self.outbox.register(channel)
            if channel.durable:
                self.inbox.register(channel)
        self.outbox.start()
        self.inbox.start()
        self.spawn(self._housekeeping())

    async def close(self) -> None:
        """Stop everything; queued outbox items stay in SQLite."""
        await self.inbox.close()
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
        """Forget old delivery ids and arrival counts once an hour."""
        while True:
            try:
                await self.store.prune_seen(30 * 86400)
                await self.store.prune_arrivals()
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(3600)

    # --- conversations ------------------------------------------------------------------------
    def admit(self, sender: str, channel: ChatChannel | None = None, waiting: int = 0) -> bool:
        """Whether a sender's new message is within the flood limits; a refused sender is told once a minute.

        ``waiting``: the sender's earlier messages still in the inbox (all replicas), beside this one's queue.
        """
        reason = self.limiter.refusal(sender, max(waiting, self.queues.depth(sender)))
        if not reason:
            return True
        self.refused(sender, reason, channel)
        return False

    def refused(self, sender: str, reason: str, channel: ChatChannel | None = None) -> None:
        """Count a message the flood limits refused (``rate`` or ``queue``); tell the sender once a minute."""
        self.metrics.errors.inc(kind=f"sender_{reason}_limit")
        if self.limiter.should_warn(sender):
            log.warning("sender %s over the %s limit: messages not answered for now", mask_pii(sender), reason)
            if channel is not None:
                recipient = sender.partition(":")[2]
                self.in_order(sender, lambda: self.reply(channel, recipient, [BotMessage(FLOOD_TEXT)]))

    def in_order(self, sender: str, job: Job) -> asyncio.Future[Any]:
        """Run ``job`` behind the sender's earlier jobs; the future holds its result."""
        return self.queues.submit(sender, job)

    def take_inbox(self, item: InboxItem) -> None:
        """Handle an inbox item this replica just accepted (now, or when the sender's turn comes)."""
        self.inbox.take(item)

    async def ask_rasa(
        self, sender: str, text: str, channel: str, metadata: dict[str, Any] | None = None
    ) -> list[BotMessage]:
        """Forward a user message (with extra metadata); on failure return the polite busy message."""
        assert self.rasa is not None
        self.metrics.messages.inc(channel=channel, direction="in")
        routed = await self.handover.route(sender, nfc(text), channel)
        if routed is not None:  # staff hold this conversation
            return routed
        metadata = dict(metadata or {})
        item = INBOX_ITEM.get()
        if item is not None:
            metadata["inbox"] = item.key
            if item.attempts:  # a replica died holding it: Rasa may have answered it already
                answered = await self._answered_before(sender, item)
                if answered is not None:
                    log.info("inbox: %s answered before the replica holding it died; its answer is reused",
                             item.channel)
                    return answered
        try:
            return await self.rasa.send(sender, nfc(text), channel, **metadata)
        except RasaUnavailable as exc:
            self.metrics.errors.inc(kind="rasa_unavailable")
            log_rasa_failure(channel, sender, exc)
            return [BotMessage(BUSY_TEXT)]

    async def _answered_before(self, sender: str, item: InboxItem) -> list[BotMessage] | None:
        """Rasa's answer to a taken-over message, from the tracker; None when Rasa has not answered it.

        The dead replica's request may still be running in Rasa: the tracker is read again until that
        request would have timed out. It started before the replica died, at most a third of a lease after
        its last renewal; with the defaults (30 s lease, 20 s timeout) that moment has passed already.
        """
        if self.events is None:
            return None
        deadline = item.held_until - self.store.lease_s * 2 / 3 + self.settings.rasa_timeout
        while True:
            try:
                answered = replies_to((await self.events.tracker(sender)).get("events") or [], item.key)
            except TrackerUnavailable as exc:
                log.warning("inbox: tracker not readable (%s); the message is sent to Rasa again", exc)
                return None
            if answered is not None or time.time() >= deadline:
                return answered
            await asyncio.sleep(min(1.0, max(0.05, deadline - time.time())))

    async def reply(
        self, channel: ChatChannel, recipient: str, messages: list[BotMessage], push: bool = False
    ) -> None:
        """Render messages for a channel and queue them in the outbox (``push``: proactive, kept when late)."""
        payloads: list[dict[str, Any]] = []
        for message in messages:
            payloads += await channel.render(recipient, message)
        if push:
            payloads = [{**p, PUSH_KEY: True} for p in payloads]
        await self.outbox.enqueue(channel.name, recipient, payloads)

    async def release_held(
        self, channel: ChatChannel, recipient: str, mark: Callable[[dict[str, Any], float], dict[str, Any]]
    ) -> None:
        """The user wrote again: their held replies go out now, stale answers are dropped."""
        stale_before = time.time() - self.settings.outbox_held_reply_max_age_s
        await self.outbox.release(channel.name, recipient, stale_before, mark)

    async def respond(self, channel: ChatChannel, recipient: str, text: str) -> None:
        """Ask Rasa and queue its answer in the outbox."""
        messages = await self.ask_rasa(f"{channel.prefix}:{recipient}", text, channel.name)
        await self.reply(channel, recipient, messages)

    def converse(self, channel: ChatChannel, recipient: str, text: str) -> None:
        """Queue a user message behind the sender's earlier ones; reply through the outbox."""
        self.in_order(f"{channel.prefix}:{recipient}", lambda: self.respond(channel, recipient, text))

    def notify(self, channel: ChatChannel, recipient: str, messages: list[BotMessage]) -> None:
        """Queue a reply that does not come from Rasa, keeping the sender's order."""
        self.in_order(f"{channel.prefix}:{recipient}", lambda: self.reply(channel, recipient, messages))

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append events to a conversation through Rasa's HTTP API (raises TrackerUnavailable)."""
        if self.events is None:
            raise TrackerUnavailable("gateway not started")
        await self.events.append(sender, events)

    async def push_messages(self, sender: str, messages: list[BotMessage]) -> None:
        """Queue proactive messages for a conversation, routed by the sender's prefix."""
        if not PUSH_SENDER_RE.match(sender):
            raise PushRejected("invalid_sender")
        prefix, _, recipient = sender.partition(":")
        if prefix == "web":
            await self.store.push_web(sender, [m.to_json() for m in messages])
        else:
            channel = self.channels.get(prefix)
            if channel is None:
                raise PushRejected("channel_disabled")
            self.in_order(sender, lambda: self.reply(channel, recipient, messages, push=True))
        self.metrics.messages.inc(amount=len(messages), channel=prefix, direction="push")
        log.info("push of %d message(s) to %s", len(messages), mask_pii(sender))

    # --- HTTP handlers ------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register health, metrics and the push endpoint."""
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.metrics_handler)
        app.router.add_post("/internal/push", self.push)

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
                    "sms": "sms" in self.channels,
                },
                "outbox_pending": int(sum(self._pending_counts.values())),
            }
        )

    async def metrics_handler(self, request: web.Request) -> web.Response:
        """Prometheus text exposition."""
        with contextlib.suppress(Exception):
            self._pending_counts = await self.store.pending_counts()
        with contextlib.suppress(Exception):
            await self.handover.refresh_metrics()
        for ch in self.channels.values():
            self._pending_counts.setdefault(ch.name, 0.0)
        return web.Response(
            text=self.metrics.render(),
            content_type="text/plain",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    def _push_authorized(self, request: web.Request) -> bool:
        """The bearer token (``GATEWAY_PUSH_TOKEN`` or the one generated under the data dir), always."""
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {self.push_token}".encode()
        return bool(self.push_token) and hmac.compare_digest(given.encode("utf-8", "replace"), expected)

    async def push(self, request: web.Request) -> web.Response:
        """``POST /internal/push``: proactive messages (e.g. dossier status changes) for one conversation."""
        if not self._push_authorized(request):
            log.warning("push rejected from %s", request.remote)
            return error_json(401, "unauthorized")
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
        try:
            await self.push_messages(sender, messages)
        except PushRejected as exc:
            return error_json(PUSH_STATUS.get(exc.reason, 400), exc.reason)
        return web.json_response({"queued": len(messages)}, status=202)


GATEWAY_KEY = web.AppKey("gateway", Gateway)
