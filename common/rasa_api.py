"""The one client of Rasa's HTTP API for conversations: append events (pause, resume, staff utterances).

The API answers only with ``?token=`` (scripts/run.sh starts Rasa with ``--auth-token``). Rasa 3.6 keeps
recording a paused conversation's user messages (NLU and slot extraction still run) but predicts no
action until a ``resume`` event; the REST channel then answers with an empty list.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from common.text import mask_pii

log = logging.getLogger(__name__)
PAUSE: dict[str, Any] = {"event": "pause"}
RESUME: dict[str, Any] = {"event": "resume"}
# After a resume the next user turn must follow action_listen, as it does after any bot turn, or
# rules written for "user says X after the bot listened" would not match.
LISTEN: dict[str, Any] = {"event": "action", "name": "action_listen"}


def bot_event(text: str, **metadata: Any) -> dict[str, Any]:
    """A bot utterance event (e.g. a staff reply, with ``staff=<name>`` in its metadata)."""
    return {"event": "bot", "text": text, "metadata": metadata}


class TrackerUnavailable(Exception):
    """Rasa's HTTP API could not be reached, refused the token, or failed."""


class RasaEvents:
    """Append events to conversations through ``POST /conversations/{id}/tracker/events``."""

    def __init__(self, url: str, token: str, timeout: float = 10.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        """Reach Rasa at ``url`` with the API ``token``; open a session on first use unless one is given."""
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session = session
        self._owns_session = session is None

    async def close(self) -> None:
        """Close the session this client opened."""
        if self._owns_session and self.session is not None:
            await self.session.close()
            self.session = None

    async def append(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` in order; raise TrackerUnavailable on any failure."""
        if self.session is None:
            self.session = aiohttp.ClientSession()
        url = f"{self.url}/conversations/{quote(sender, safe='')}/tracker/events"
        params = {"include_events": "NONE", "token": self.token}
        try:
            async with self.session.post(url, params=params, json=events, timeout=self.timeout) as resp:
                if resp.status != 200:
                    raise TrackerUnavailable(f"HTTP {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TrackerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        log.info("appended %d event(s) to %s", len(events), mask_pii(sender))

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker (all events); raise TrackerUnavailable on any failure."""
        if self.session is None:
            self.session = aiohttp.ClientSession()
        url = f"{self.url}/conversations/{quote(sender, safe='')}/tracker"
        try:
            async with self.session.get(url, params={"token": self.token}, timeout=self.timeout) as resp:
                if resp.status != 200:
                    raise TrackerUnavailable(f"HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise TrackerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise TrackerUnavailable("tracker is not an object")
        return data
