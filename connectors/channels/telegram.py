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
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from common.messages import (
    EXPIRED_BUTTON_TEXT,
    GREET_PAYLOAD,
    TEXT_ONLY_TEXT,
    VOICE_TEXT,
    BotMessage,
    split_text,
    truncate,
    utf16_len,
)
from common.text import mask_pii
from connectors.config import Settings
from connectors.outbox import GiveUp, RetryLater

if TYPE_CHECKING:
    from connectors.app import Gateway

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096
BUTTON_TEXT_LIMIT = 64
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ["message", "callback_query"]
COMMANDS = {"/start": GREET_PAYLOAD, "/help": "/help", "/restart": "/restart"}
BUTTONS_PROMPT = "Anh/chị chọn một mục bên dưới:"


def map_command(text: str) -> str:
    """Map bot commands (``/start``, ``/start@MyBot payload``) to Rasa intents; keep other text."""
    head = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    command = head.split("@", 1)[0].lower()
    return COMMANDS.get(command, text)


def _seconds(value: int | float | dt.timedelta) -> float:
    """RetryAfter.retry_after as seconds (PTB returns int or timedelta)."""
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramChannel:
    """Receives updates on /telegram/webhook and sends replies through the outbox."""

    name = "telegram"
    prefix = "tg"

    def __init__(self, settings: Settings, bot: Bot | None = None) -> None:
        """Create the channel; the Bot client is created lazily at start."""
        self.settings = settings
        self._bot = bot
        self._gateway: Gateway | None = None

    @property
    def bot(self) -> Bot:
        """The PTB Bot client."""
        if self._bot is None:
            self._bot = Bot(self.settings.telegram_token, base_url=self.settings.telegram_api_url)
        return self._bot

    @property
    def gateway(self) -> Gateway:
        """The gateway this channel runs in."""
        if self._gateway is None:
            raise RuntimeError("telegram channel not started")
        return self._gateway

    async def start(self, gateway: Gateway) -> None:
        """Initialise the Bot client; an unreachable API is logged, not fatal."""
        self._gateway = gateway
        if not SECRET_RE.match(self.settings.telegram_secret):
            log.warning("TELEGRAM_SECRET must be 1-256 chars of A-Z a-z 0-9 _ -; Telegram refuses others")
        gateway.spawn(self._check_bot())

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

    def add_routes(self, app: web.Application) -> None:
        """Register the webhook route."""
        app.router.add_post("/telegram/webhook", self.webhook)

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret header, parse leniently, de-duplicate, answer fast, process in order."""
        from connectors.app import error_json, read_json_object

        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode("utf-8"), self.settings.telegram_secret.encode("utf-8")):
            self.gateway.metrics.errors.inc(kind="telegram_bad_secret")
            log.warning("telegram webhook: wrong or missing secret token from %s", request.remote)
            return error_json(403, "forbidden")
        data = await read_json_object(request)
        if isinstance(data, web.Response):
            log.warning("telegram webhook: rejected body (%s)", data.status)
            return data
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.warning("telegram webhook: update without a valid update_id")
            return error_json(400, "invalid_update")
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:
            log.warning("telegram webhook: unparseable update %s: %s", update_id, type(exc).__name__)
            return error_json(400, "invalid_update")
        if not await self.gateway.store.mark_seen(self.name, str(update_id)):
            log.info("telegram webhook: duplicate update %s ignored", update_id)
            return web.json_response({"ok": True, "duplicate": True})
        try:
            self.handle(update)
        except Exception as exc:
            log.warning("telegram webhook: update %s not handled: %s", update_id, type(exc).__name__)
            return error_json(400, "invalid_update")
        return web.json_response({"ok": True})

    def handle(self, update: Update) -> None:
        """Queue the work an update asks for behind the sender's earlier updates."""
        gw = self.gateway
        if update.callback_query is not None:
            query = update.callback_query
            msg = query.message
            chat_id = str(msg.chat.id) if msg is not None else str(query.from_user.id)
            data = query.data or ""

            async def on_button() -> None:
                try:
                    await self.bot.answer_callback_query(query.id)
                except TelegramError as exc:
                    log.warning("answer_callback_query failed: %s", type(exc).__name__)
                found = await gw.store.get_callback(data) if data else None
                if found is None:
                    await gw.reply(self, chat_id, [BotMessage(EXPIRED_BUTTON_TEXT)])
                    return
                messages = await gw.ask_rasa(f"tg:{chat_id}", found[0], self.name)
                await gw.reply(self, chat_id, messages)

            gw.queues.submit(f"tg:{chat_id}", on_button)
            return
        message = update.message
        if message is None:
            log.debug("telegram update %s of another kind ignored", update.update_id)
            return
        chat_id = str(message.chat.id)
        if message.text:
            gw.converse(self, chat_id, map_command(message.text))
        elif message.voice is not None or message.audio is not None or message.video_note is not None:
            gw.notify(self, chat_id, [BotMessage(VOICE_TEXT)])
        else:
            gw.notify(self, chat_id, [BotMessage(TEXT_ONLY_TEXT)])

    async def render(self, recipient: str, message: BotMessage) -> list[dict[str, Any]]:
        """Text split under 4,096 UTF-16 units; buttons as an inline keyboard on the last part."""
        calls: list[dict[str, Any]] = []
        if message.image:
            calls.append({"method": "photo", "photo": message.image})
        chunks = split_text(message.text, TEXT_LIMIT, utf16_len)
        if message.buttons and not chunks:
            chunks = [BUTTONS_PROMPT]
        keyboard: list[list[dict[str, str]]] = []
        for button in message.buttons:
            cid = await self.gateway.store.put_callback(button.payload, button.title)
            keyboard.append([{"text": truncate(button.title, BUTTON_TEXT_LIMIT), "callback_data": cid}])
        for i, chunk in enumerate(chunks):
            call: dict[str, Any] = {"method": "message", "text": chunk}
            if keyboard and i == len(chunks) - 1:
                call["keyboard"] = keyboard
            calls.append(call)
        return calls

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
    from connectors.logs import setup_logging

    setup_logging()
    settings = Settings.from_env()
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
