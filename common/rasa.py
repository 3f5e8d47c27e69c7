"""The one client of Rasa's REST channel (POST /webhooks/rest/webhook), for the gateway and the voice gateway.

Both talk to Rasa through the plain REST channel rather than custom Rasa input channels: it is
simple, independent of Rasa's internals and version, and it lets the gateways own every
channel-specific concern (signatures, de-duplication, outbox, tokens, rendering, speech).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from common.messages import BotMessage, parse_messages
from common.text import mask_pii

log = logging.getLogger(__name__)
# Every message to Rasa (chat channels, voice transcripts) is cut to this; Rasa's REST channel refuses longer.
MAX_MESSAGE_CHARS = 2000


class RasaUnavailable(Exception):
    """Rasa could not be reached or answered with an error."""


class RasaClient:
    """Forward user messages to Rasa and return its answers."""

    def __init__(
        self,
        url: str,
        timeout: float,
        session: aiohttp.ClientSession | None = None,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        """Reach Rasa at ``url``; ``observe`` receives each call's latency in seconds."""
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session = session
        self._owns_session = session is None
        self._observe = observe

    async def start(self) -> None:
        """Open an HTTP session unless one was given."""
        if self.session is None:
            self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close the session this client opened."""
        if self._owns_session and self.session is not None:
            await self.session.close()
            self.session = None

    async def post(self, sender: str, text: str, channel: str, **metadata: Any) -> list[Any]:
        """Send one user message and return Rasa's raw answer list; raise RasaUnavailable on any failure."""
        if self.session is None:
            raise RasaUnavailable("client not started")
        body = {"sender": sender, "message": text[:MAX_MESSAGE_CHARS], "metadata": {"channel": channel, **metadata}}
        start = time.perf_counter()
        try:
            async with self.session.post(
                f"{self.url}/webhooks/rest/webhook", json=body, timeout=self.timeout
            ) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - start)
        if not isinstance(data, list):
            raise RasaUnavailable("response is not a list")
        return data

    async def send(self, sender: str, text: str, channel: str, **metadata: Any) -> list[BotMessage]:
        """Send one user message and return the messages Rasa answered."""
        return parse_messages(await self.post(sender, text, channel, **metadata))

    async def reachable(self) -> bool:
        """Tell whether Rasa's root endpoint answers within 2 seconds."""
        if self.session is None:
            return False
        try:
            async with self.session.get(f"{self.url}/", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return resp.status < 500
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False


def log_rasa_failure(channel: str, sender: str, exc: Exception) -> None:
    """Log a Rasa failure without personal data."""
    log.error("rasa unavailable for %s sender %s: %s", channel, mask_pii(sender), exc)
