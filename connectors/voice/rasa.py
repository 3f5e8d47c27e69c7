"""Rasa REST client for calls: like connectors.rasa, but keeps custom payloads (the handoff flag)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from connectors.messages import parse_message


class RasaUnavailable(Exception):
    """Rasa could not be reached or answered with an error."""


@dataclass
class BotReply:
    """Everything Rasa answered to one caller turn."""

    texts: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, payload) of the last message
    handoff: bool = False
    hangup: bool = False


def parse_reply(data: Any) -> BotReply:
    """Turn Rasa's REST response list into a BotReply (unknown items are ignored)."""
    reply = BotReply()
    if not isinstance(data, list):
        return reply
    for item in data:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom")
        if isinstance(custom, dict):
            reply.handoff = reply.handoff or custom.get("handoff") is True
            reply.hangup = reply.hangup or custom.get("hangup") is True
        message = parse_message(item)
        if message is None:
            continue
        if message.text.strip():
            reply.texts.append(message.text)
        if message.buttons:
            reply.buttons = [(b.title, b.payload) for b in message.buttons]
    return reply


class VoiceRasaClient:
    """POST {rasa_url}/webhooks/rest/webhook with sender ``call:<id>`` and channel ``voice``."""

    def __init__(self, url: str, timeout: float) -> None:
        """Remember where Rasa is; the session is opened by ``start``."""
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP session."""
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self.session is not None:
            await self.session.close()

    async def send(self, sender: str, text: str) -> BotReply:
        """Send one caller turn; raise RasaUnavailable on any failure."""
        assert self.session is not None, "start() first"
        body = {"sender": sender, "message": text, "metadata": {"channel": "voice"}}
        try:
            async with self.session.post(f"{self.url}/webhooks/rest/webhook", json=body,
                                         timeout=self.timeout) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(data, list):
            raise RasaUnavailable("response is not a list")
        return parse_reply(data)
