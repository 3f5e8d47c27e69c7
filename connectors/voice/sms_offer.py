"""Sending a caller the full documents list by SMS, to the number they are calling from.

The text goes through the gateway's ``POST /internal/push`` to the ``sms:<hash>`` sender, the same
keyed hash the SMS channel uses for that number, and the channel (Kannel) delivers it from its outbox.
The SMS channel only sends to numbers it knows, so the call first records the number behind the
hash in the channel's own state (as an incoming SMS would). One SMS offer per call; the number is
never logged unmasked.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from common.hashing import Hasher
from common.messages import PUSH_SENDER_RE
from common.text import mask_pii
from connectors.channels.sms_state import SmsState
from connectors.voice.config import VoiceSettings
from connectors.voice.sip import uri_of
from dossier.phone_proof import normalize_phone

log = logging.getLogger(__name__)
MAX_SMS_PER_CALL = 1


def caller_number(from_header: str) -> str:
    """The caller's phone number from a SIP From header ('' when it is not a Vietnamese phone number)."""
    uri = uri_of(from_header) if from_header else ""
    user = uri.split(":", 1)[-1].split("@", 1)[0].split(";", 1)[0]
    if not user or not all(ch.isdigit() or ch in "+-. " for ch in user):
        return ""
    number = normalize_phone(user)
    return number if number.startswith("0") and len(number) in (10, 11) else ""


class SmsSender:
    """Pushes one text to a phone number through the gateway's SMS channel."""

    def __init__(self, settings: VoiceSettings) -> None:
        """Remember where the gateway and the SMS channel's state are."""
        self.settings = settings
        self._hasher: Hasher | None = None
        self.state = SmsState(settings.data_dir / "sms.sqlite3")

    def sender(self, number: str) -> str:
        """The push sender standing for ``number`` (the SMS channel's keyed hash)."""
        if self._hasher is None:
            self._hasher = Hasher.from_settings(self.settings.hash_key, self.settings.data_dir)
        return "sms:" + self._hasher("sms:" + normalize_phone(number))

    async def send(self, number: str, text: str) -> bool:
        """Queue ``text`` for ``number``; False when the gateway refused or was unreachable."""
        sender = self.sender(number)
        if not PUSH_SENDER_RE.match(sender):
            return False
        await self.state.remember_number(sender.split(":", 1)[1], normalize_phone(number))
        token = await asyncio.to_thread(self.settings.push_bearer)
        try:
            async with aiohttp.ClientSession() as client, client.post(
                f"{self.settings.gateway_url}/internal/push", headers={"Authorization": f"Bearer {token}"},
                json={"sender": sender, "messages": [{"text": text}]}, timeout=aiohttp.ClientTimeout(total=5),
            ) as resp:
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("SMS to %s not queued: %s", mask_pii(number), type(exc).__name__)
            return False
        if status != 202:
            log.warning("SMS to %s refused by the gateway (HTTP %d)", mask_pii(number), status)
            return False
        log.info("documents list queued by SMS for %s", mask_pii(number))
        return True
