"""Telegram channel (python-telegram-bot 22 as the Bot API client, our own aiohttp webhook).

CLI: ``python -m connectors.channels.telegram set-webhook URL`` | ``delete-webhook`` | ``webhook-info``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import re
import sys
from typing import Any

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from common.messages import (
    EXPIRED_BUTTON_TEXT,
    GREET_PAYLOAD,
    TEXT_ONLY_TEXT,
    VOICE_TEXT,
    BotMessage,
    Button,
    truncate,
    utf16_len,
)
from common.text import mask_pii
from connectors.channels.base import Delivery, WebhookChannel
from connectors.config import GatewaySettings
from connectors.http import read_json_object
from connectors.logs import setup_logging
from connectors.outbox import GiveUp, RetryLater

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096
BUTTON_TEXT_LIMIT = 64
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}\Z")
ALLOWED_UPDATES = ["message", "callback_query"]
COMMANDS = {"/start": GREET_PAYLOAD, "/help": "/help", "/restart": "/restart"}


def map_command(text: str) -> str:
    """Map bot commands (``/start``, ``/start@MyBot payload``) to Rasa intents; keep other text."""
    head = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    command = head.split("@", 1)[0].lower()
    return COMMANDS.get(command, text)


def _seconds(value: int | float | dt.timedelta) -> float:
    """RetryAfter.retry_after as seconds (PTB returns int or timedelta)."""
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramChannel(WebhookChannel[Update]):
    """Receives updates on /telegram/webhook and sends replies through the outbox."""

    name = "telegram"
    prefix = "tg"
    path = "/telegram/webhook"
    invalid_code = "invalid_update"
    text_limit = TEXT_LIMIT
    durable = True

    def __init__(self, settings: GatewaySettings, bot: Bot | None = None) -> None:
        """Create the channel; the Bot client is created lazily."""
        super().__init__(settings)
        self._bot = bot

    @property
    def bot(self) -> Bot:
        """The PTB Bot client."""
        if self._bot is None:
            self._bot = Bot(self.settings.telegram_token, base_url=self.settings.telegram_api_url)
        return self._bot

    async def on_start(self) -> None:
        """Check the secret's form; reach the Bot API in the background (never fatal)."""
        if not SECRET_RE.match(self.settings.telegram_secret):
            log.warning("TELEGRAM_SECRET must be 1-256 chars of A-Z a-z 0-9 _ -; Telegram refuses others")
        self.gateway.spawn(self._check_bot())

    async def _check_bot(self) -> None:
        """Call getMe in the background so an unreachable API never delays start-up."""
        try:
            await asyncio.wait_for(self.bot.initialize(), timeout=15)
            log.info("telegram enabled as @%s", self.bot.username)
        except (TelegramError, asyncio.TimeoutError, RuntimeError) as exc:
            log.warning("telegram enabled, but the Bot API is not reachable yet: %s", type(exc).__name__)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._bot is not None:
            try:
                await self._bot.shutdown()
            except Exception as exc:
                log.debug("telegram shutdown: %s", exc)

    async def receive(self, request: web.Request) -> Delivery[Update] | web.Response:
        """Check the secret header and parse the update leniently."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode("utf-8"), self.settings.telegram_secret.encode("utf-8")):
            return self.reject(403, "forbidden", "wrong or missing secret token from %s", request.remote,
                               metric="bad_secret")
        data = await read_json_object(request)
        if isinstance(data, web.Response):
            log.warning("telegram webhook: rejected body (%s)", data.status)
            return data
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return self.reject(400, "invalid_update", "update without a valid update_id")
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:
            return self.reject(400, "invalid_update", "unparseable update %s: %s", update_id, type(exc).__name__)
        return Delivery(str(update_id), f"update {update_id}", update)

    def recipient_of(self, update: Update) -> str | None:
        """The chat an update comes from (None when the update names none)."""
        query, message = update.callback_query, update.message
        chat = getattr(query.message if query is not None else message, "chat", None)
        if chat is not None and getattr(chat, "id", None) is not None:
            return str(chat.id)
        user = getattr(query, "from_user", None)
        return str(user.id) if user is not None and getattr(user, "id", None) is not None else None

    def encode_event(self, event: Update) -> dict[str, Any]:
        """The update as the Bot API sent it."""
        return event.to_dict()

    def decode_event(self, data: dict[str, Any]) -> Update:
        """The stored update, parsed again."""
        update = Update.de_json(data, self.bot)
        if update is None:
            raise ValueError("empty update")
        return update

    async def process(self, update: Update) -> None:
        """Do what an update asks, in the sender's turn: ask Rasa (a tap: its button's payload) or explain."""
        if update.callback_query is not None:
            query = update.callback_query
            msg = query.message
            chat_id = str(msg.chat.id) if msg is not None else str(query.from_user.id)
            data = query.data or ""
            try:
                await self.bot.answer_callback_query(query.id)
            except TelegramError as exc:
                log.warning("answer_callback_query failed: %s", type(exc).__name__)
            payload = await self.button_payload(data) if data else None
            if payload is None:
                await self.gateway.reply(self, chat_id, [BotMessage(EXPIRED_BUTTON_TEXT)])
                return
            await self.gateway.respond(self, chat_id, payload)
            return
        message = update.message
        if message is None:
            log.debug("telegram update %s of another kind ignored", update.update_id)
            return
        chat_id = str(message.chat.id)
        if message.text:
            await self.gateway.respond(self, chat_id, map_command(message.text))
        elif message.voice is not None or message.audio is not None or message.video_note is not None:
            await self.gateway.reply(self, chat_id, [BotMessage(VOICE_TEXT)])
        else:
            await self.gateway.reply(self, chat_id, [BotMessage(TEXT_ONLY_TEXT)])

    def measure(self, text: str) -> int:
        """Telegram counts message length in UTF-16 code units."""
        return utf16_len(text)

    async def render_button(self, button: Button) -> list[dict[str, str]]:
        """One inline keyboard row: the title and the button's short callback id."""
        return [{"text": truncate(button.title, BUTTON_TEXT_LIMIT), "callback_data": await self.callback_id(button)}]

    def text_call(self, text: str, buttons: list[Any] | None) -> dict[str, Any]:
        """A sendMessage call, with the inline keyboard when there are buttons."""
        call: dict[str, Any] = {"method": "message", "text": text}
        if buttons:
            call["keyboard"] = buttons
        return call

    def image_call(self, url: str) -> dict[str, Any]:
        """A sendPhoto call."""
        return {"method": "photo", "photo": url}

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Send one message or photo; map Telegram errors to retry or give up."""
        try:
            chat_id = int(recipient)
        except ValueError as exc:
            raise GiveUp(f"bad chat id {recipient!r}") from exc
        try:
            if payload.get("method") == "photo":
                await self.bot.send_photo(chat_id=chat_id, photo=payload["photo"])
                return
            markup = None
            if payload.get("keyboard"):
                markup = InlineKeyboardMarkup(
                    [[InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
                     for row in payload["keyboard"]]
                )
            await self.bot.send_message(chat_id=chat_id, text=payload["text"], reply_markup=markup)
        except RetryAfter as exc:
            raise RetryLater("telegram rate limit", delay=_seconds(exc.retry_after) + 1) from exc
        except Forbidden as exc:
            raise GiveUp(f"telegram forbidden: {exc.message}") from exc
        except BadRequest as exc:
            raise GiveUp(f"telegram bad request: {mask_pii(exc.message)}") from exc
        except InvalidToken as exc:
            raise RetryLater("telegram token rejected", delay=300) from exc
        except (NetworkError, TelegramError) as exc:
            raise RetryLater(f"telegram: {type(exc).__name__}") from exc


async def _cli(argv: list[str]) -> int:
    """Manage the webhook registration."""
    setup_logging()
    settings = GatewaySettings.from_env()
    usage = "usage: python -m connectors.channels.telegram set-webhook URL | delete-webhook | webhook-info"
    if not argv or argv[0] not in ("set-webhook", "delete-webhook", "webhook-info"):
        print(usage, file=sys.stderr)
        return 2
    if not settings.telegram_token:
        print("TELEGRAM_TOKEN is not set", file=sys.stderr)
        return 2
    async with Bot(settings.telegram_token, base_url=settings.telegram_api_url) as bot:
        if argv[0] == "set-webhook":
            if len(argv) != 2 or not argv[1].startswith("https://"):
                print("set-webhook needs one https:// URL ending in /telegram/webhook", file=sys.stderr)
                return 2
            if not SECRET_RE.match(settings.telegram_secret):
                print("TELEGRAM_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -", file=sys.stderr)
                return 2
            ok = await bot.set_webhook(
                argv[1], secret_token=settings.telegram_secret, allowed_updates=ALLOWED_UPDATES
            )
            print("webhook set" if ok else "webhook NOT set")
            return 0 if ok else 1
        if argv[0] == "delete-webhook":
            ok = await bot.delete_webhook()
            print("webhook deleted" if ok else "webhook NOT deleted")
            return 0 if ok else 1
        info = await bot.get_webhook_info()
        print(f"url={info.url!r} pending={info.pending_update_count} last_error={info.last_error_message!r}")
        return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_cli(sys.argv[1:])))
