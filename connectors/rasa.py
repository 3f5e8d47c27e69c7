"""Client of Rasa's REST channel (POST /webhooks/rest/webhook).

The gateway talks to Rasa through the plain REST channel rather than custom Rasa input channels:
it is simple, independent of Rasa's internals and version, and it lets the gateway own every
channel-specific concern (signatures, de-duplication, outbox, tokens, rendering).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from bot.text import mask_pii
from connectors.messages import BotMessage, parse_messages
from connectors.metrics import Metrics

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached or answered with an error."""


class RasaClient:
    """Forward user messages to Rasa and parse its answers."""

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float, metrics: Metrics) -> None:
        """Use ``session`` to reach Rasa at ``url``."""
        self.session, self.url, self.metrics = session, url.rstrip("/"), metrics
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, sender: str, text: str, channel: str, **metadata: Any) -> list[BotMessage]:
        """Send one user message; raise RasaUnavailable on any failure."""
        body = {"sender": sender, "message": text, "metadata": {"channel": channel, **metadata}}
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
            self.metrics.rasa_latency.observe(time.perf_counter() - start)
        if not isinstance(data, list):
            raise RasaUnavailable("response is not a list")
        return parse_messages(data)

    async def reachable(self) -> bool:
        """Tell whether Rasa's root endpoint answers within 2 seconds."""
        try:
            async with self.session.get(f"{self.url}/", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return resp.status < 500
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False


def log_rasa_failure(channel: str, sender: str, exc: Exception) -> None:
    """Log a Rasa failure without personal data."""
    log.error("rasa unavailable for %s sender %s: %s", channel, mask_pii(sender), exc)
