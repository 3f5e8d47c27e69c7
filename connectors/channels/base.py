"""What every messaging channel shares: the gateway it talks to, webhook de-duplication, rendering.

A channel depends on ``GatewayPort`` (handed over at ``start``), never on the gateway module;
the gateway sees a channel as a ``ChatChannel``.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import aiohttp
from aiohttp import web

from common.messages import BotMessage, Button, split_text
from connectors.config import GatewaySettings
from connectors.dispatch import Job
from connectors.http import error_json
from connectors.metrics import Metrics
from connectors.store import InboxItem, Limits, Store, callback_id

BUTTONS_PROMPT = "Anh/chị chọn một mục bên dưới:"
MORE_BUTTONS_PROMPT = "Các lựa chọn khác:"
EventT = TypeVar("EventT")
# Short ids ``render`` has just stored for the message it renders (one transaction for all its buttons).
_STORED_CALLBACKS: ContextVar[frozenset[str]] = ContextVar("stored_callbacks", default=frozenset())


class ChatChannel(Protocol):
    """A messaging channel as the gateway sees it (Telegram, Zalo): webhook in, outbox out."""

    name: str
    prefix: str
    durable: ClassVar[bool]  # its events go through the durable inbox (``decode_event`` and ``process``)

    async def start(self, gateway: GatewayPort) -> None:
        """Prepare clients; must not fail when the remote API is unreachable."""

    def decode_event(self, data: dict[str, Any]) -> Any:
        """An event back from its stored form (durable channels)."""

    async def process(self, event: Any) -> None:
        """Handle one event now (durable channels)."""

    async def close(self) -> None:
        """Release clients."""

    def add_routes(self, app: web.Application) -> None:
        """Register webhook routes."""

    async def render(self, recipient: str, message: BotMessage) -> list[dict[str, Any]]:
        """Turn one bot message into the channel's API calls (outbox payloads)."""

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Perform one API call (see connectors.outbox)."""


class GatewayPort(Protocol):
    """What a channel may use of the gateway it runs in."""

    @property
    def store(self) -> Store:
        """The gateway's durable state (seen ids, callback ids, tokens, web inbox)."""

    @property
    def metrics(self) -> Metrics:
        """The gateway's metrics."""

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The shared HTTP client (set once the gateway has started)."""

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background for the gateway's lifetime."""

    def in_order(self, sender: str, job: Job) -> asyncio.Future[Any]:
        """Run ``job`` behind the sender's earlier jobs; the future holds its result."""

    def take_inbox(self, item: InboxItem) -> None:
        """Handle an inbox item this replica just accepted (now, or when the sender's turn comes)."""

    def refused(self, sender: str, reason: str, channel: ChatChannel | None = None) -> None:
        """Count a message the shared flood limits refused; tell the sender once a minute."""

    def admit(self, sender: str, channel: ChatChannel | None = None, waiting: int = 0) -> bool:
        """Whether a sender's new message is within the flood limits (refused senders are told once a minute).

        ``waiting``: the sender's earlier messages still in the inbox.
        """

    async def ask_rasa(
        self, sender: str, text: str, channel: str, metadata: dict[str, Any] | None = None
    ) -> list[BotMessage]:
        """Forward a user message (and extra Rasa metadata) to Rasa (the busy message when Rasa fails)."""

    async def respond(self, channel: ChatChannel, recipient: str, text: str) -> None:
        """Ask Rasa and queue its answer in the outbox, now (call it from an ordered job)."""

    async def reply(self, channel: ChatChannel, recipient: str, messages: list[BotMessage]) -> None:
        """Render messages for a channel and queue them in the outbox, now."""

    async def release_held(
        self, channel: ChatChannel, recipient: str, mark: Callable[[dict[str, Any], float], dict[str, Any]]
    ) -> None:
        """The user wrote again: send their held outbox items now, dropping stale answers."""

    def converse(self, channel: ChatChannel, recipient: str, text: str) -> None:
        """Queue a user message behind the sender's earlier ones; the answer goes to the outbox."""

    def notify(self, channel: ChatChannel, recipient: str, messages: list[BotMessage]) -> None:
        """Queue a reply that does not come from Rasa, keeping the sender's order."""


@dataclass(frozen=True)
class Delivery(Generic[EventT]):
    """An authenticated, parsed webhook delivery: its de-duplication key, a log label, the event."""

    key: str
    what: str
    event: EventT


class WebhookChannel(ABC, Generic[EventT]):
    """A channel fed by one webhook route; replies leave through the gateway's outbox."""

    name: str
    prefix: str
    path: ClassVar[str]
    invalid_code: ClassVar[str]
    text_limit: ClassVar[int]
    max_buttons: ClassVar[int | None] = None
    durable: ClassVar[bool] = False  # True: events are stored in the inbox before the webhook answers

    def __init__(self, settings: GatewaySettings) -> None:
        """Create the channel; it needs a gateway only from ``start`` on."""
        self.settings = settings
        self.log = logging.getLogger(type(self).__module__)
        self._gateway: GatewayPort | None = None

    @property
    def gateway(self) -> GatewayPort:
        """The gateway this channel runs in."""
        if self._gateway is None:
            raise RuntimeError(f"{self.name} channel not started")
        return self._gateway

    async def start(self, gateway: GatewayPort) -> None:
        """Attach to the gateway, then run the channel's own start-up."""
        self._gateway = gateway
        await self.on_start()

    async def on_start(self) -> None:
        """Channel-specific start-up (nothing by default)."""

    async def close(self) -> None:
        """Release clients (nothing by default: the gateway owns the HTTP session)."""

    def add_routes(self, app: web.Application) -> None:
        """Register the webhook route."""
        app.router.add_post(self.path, self.webhook)

    # --- webhook ------------------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        """Authenticate and parse, de-duplicate, answer at once; the work runs in sender order."""
        delivery = await self.receive(request)
        if isinstance(delivery, web.Response):
            return delivery
        if self.durable:
            return await self.accept(delivery)
        if not await self.gateway.store.mark_seen(self.name, delivery.key):
            self.log.info("%s webhook: duplicate %s ignored", self.name, delivery.what)
            return web.json_response({"ok": True, "duplicate": True})
        recipient = self.recipient_of(delivery.event)
        if recipient is not None and not self.gateway.admit(self.sender(recipient), self):
            return web.json_response({"ok": True, "limited": True})
        try:
            self.handle(delivery.event)
        except Exception as exc:
            self.log.warning("%s webhook: %s not handled: %s", self.name, delivery.what, type(exc).__name__)
            return error_json(400, self.invalid_code)
        return web.json_response({"ok": True})

    async def accept(self, delivery: Delivery[EventT]) -> web.Response:
        """Store the event with its ``seen`` row, answer 200; the inbox hands it to ``process`` in order."""
        try:
            stored = self.encode_event(delivery.event)
        except Exception as exc:
            self.log.warning("%s webhook: %s not handled: %s", self.name, delivery.what, type(exc).__name__)
            return error_json(400, self.invalid_code)
        recipient = self.recipient_of(delivery.event)
        limits = None if recipient is None else Limits(self.settings.sender_max_per_minute,
                                                       self.settings.sender_max_queued)
        item = await self.gateway.store.accept(self.name, delivery.key, self.conversation_of(delivery.event), stored,
                                               limits)
        if item is None:
            self.log.info("%s webhook: duplicate %s ignored", self.name, delivery.what)
            return web.json_response({"ok": True, "duplicate": True})
        if recipient is not None and item.refused:
            self.gateway.refused(self.sender(recipient), item.refused, self)
            return web.json_response({"ok": True, "limited": True})
        self.gateway.take_inbox(item)
        return web.json_response({"ok": True})

    def encode_event(self, event: EventT) -> dict[str, Any]:
        """The event in a form the inbox stores as JSON (durable channels)."""
        raise NotImplementedError

    def decode_event(self, data: dict[str, Any]) -> EventT:
        """The event back from ``encode_event``'s form (raise ValueError when it cannot be)."""
        raise NotImplementedError

    def conversation_of(self, event: EventT) -> str:
        """The user whose events are handled in order (durable channels; default: ``recipient_of``)."""
        return self.recipient_of(event) or ""

    async def process(self, event: EventT) -> None:
        """Handle one event now, in the sender's turn (durable channels)."""
        raise NotImplementedError

    @abstractmethod
    async def receive(self, request: web.Request) -> Delivery[EventT] | web.Response:
        """Check and parse one webhook request; a response ends the request here."""

    def recipient_of(self, event: EventT) -> str | None:
        """The user an event comes from, for the flood limits (None: not limited)."""
        return None

    def handle(self, event: EventT) -> None:
        """Queue the work an event asks for behind the sender's earlier events (channels without the inbox)."""
        self.in_order(self.conversation_of(event), lambda: self.process(event))

    def reject(self, status: int, code: str, reason: str = "", *args: object, metric: str = "") -> web.Response:
        """A 4xx JSON error, logged (when ``reason`` is given) and counted (when ``metric`` is given)."""
        if metric:
            self.gateway.metrics.errors.inc(kind=f"{self.name}_{metric}")
        if reason:
            self.log.warning(f"{self.name} webhook: {reason}", *args)
        return error_json(status, code)

    # --- conversation -------------------------------------------------------------------------
    def sender(self, recipient: str) -> str:
        """The conversation id Rasa knows this user by (``tg:…``, ``zalo:…``)."""
        return f"{self.prefix}:{recipient}"

    def converse(self, recipient: str, text: str) -> None:
        """Queue a user message for Rasa behind the user's earlier ones."""
        self.gateway.converse(self, recipient, text)

    def notify(self, recipient: str, text: str) -> None:
        """Queue a fixed text for the user, keeping the user's order."""
        self.gateway.notify(self, recipient, [BotMessage(text)])

    def in_order(self, recipient: str, job: Job) -> None:
        """Run ``job`` behind the user's earlier work."""
        self.gateway.in_order(self.sender(recipient), job)

    async def button_payload(self, callback_id: str) -> str | None:
        """The Rasa payload behind a button's short id; None when unknown or expired."""
        found = await self.gateway.store.get_callback(callback_id)
        return found[0] if found else None

    # --- rendering ----------------------------------------------------------------------------
    async def render(self, recipient: str, message: BotMessage) -> list[dict[str, Any]]:
        """Image first, text split under the limit, buttons on the last part (extra groups after)."""
        calls = [self.image_call(message.image)] if message.image else []
        chunks = split_text(message.text, self.text_limit, self.measure)
        wanted = [(b.payload, b.title) for b in message.buttons if self.wants_callback(b)]
        token = _STORED_CALLBACKS.set(frozenset(await self.gateway.store.put_callbacks(wanted)))  # one transaction
        try:
            rendered = [await self.render_button(button) for button in message.buttons]
        finally:
            _STORED_CALLBACKS.reset(token)
        size = self.max_buttons or max(1, len(rendered))
        groups = [rendered[i:i + size] for i in range(0, len(rendered), size)]
        if groups and not chunks:
            chunks = [BUTTONS_PROMPT]
        for i, chunk in enumerate(chunks):
            calls.append(self.text_call(chunk, groups[0] if groups and i == len(chunks) - 1 else None))
        calls += [self.text_call(MORE_BUTTONS_PROMPT, group) for group in groups[1:]]
        return calls

    def measure(self, text: str) -> int:
        """Length of a text as the channel counts it against ``text_limit``."""
        return len(text)

    def wants_callback(self, button: Button) -> bool:
        """Whether the button is rendered with a short callback id (``callback_id``)."""
        return True

    async def callback_id(self, button: Button) -> str:
        """A short id standing for the button's payload (kept in the store; ``render`` stores them together)."""
        cid = callback_id(button.payload)
        if cid in _STORED_CALLBACKS.get():
            return cid
        return await self.gateway.store.put_callback(button.payload, button.title)

    @abstractmethod
    async def render_button(self, button: Button) -> Any:
        """One button as the channel's API wants it."""

    @abstractmethod
    def text_call(self, text: str, buttons: list[Any] | None) -> dict[str, Any]:
        """The API call sending one text part, with a group of rendered buttons or none."""

    @abstractmethod
    def image_call(self, url: str) -> dict[str, Any]:
        """The API call sending one image."""

    @abstractmethod
    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Perform one queued API call; raise RetryLater or GiveUp (connectors.outbox) on failure."""
