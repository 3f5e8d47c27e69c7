"""Staff replies to citizens: through the gateway's push function, or over HTTP when the console runs alone."""

from __future__ import annotations

import asyncio

import aiohttp

from admin.config import AdminSettings
from common.messages import PUSH_SENDER_RE, BotMessage, Push, PushRejected

# What staff read when a reply could not be queued, by PushRejected.reason.
REJECTION_TEXTS = {
    "invalid_sender": "Kênh này không nhận được tin nhắn chủ động.",
    "channel_disabled": "Kênh này chưa được bật trên cổng kết nối.",
    "unavailable": "Không kết nối được cổng kết nối.",
}


class GatewayRefused(PushRejected):
    """The gateway answered ``/internal/push`` with an unexpected HTTP status."""

    def __init__(self, status: int) -> None:
        """Keep the status for the message shown to staff."""
        super().__init__("unavailable")
        self.status = status


def http_push(settings: AdminSettings) -> Push:
    """A push function that POSTs to the gateway's ``/internal/push`` (for a console run on its own)."""

    async def push(sender: str, messages: list[BotMessage]) -> None:
        """POST the messages; raise PushRejected when the gateway cannot queue them."""
        if not PUSH_SENDER_RE.match(sender):
            raise PushRejected("invalid_sender")
        headers = {"Authorization": f"Bearer {settings.push_bearer()}"}
        try:
            async with aiohttp.ClientSession() as client, client.post(
                f"{settings.gateway_url}/internal/push", headers=headers,
                json={"sender": sender, "messages": [m.to_json() for m in messages]},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise PushRejected("unavailable") from exc
        if status == 422:
            raise PushRejected("channel_disabled")
        if status != 202:
            raise GatewayRefused(status)

    return push


def rejection_text(exc: PushRejected) -> str:
    """The message shown to staff for a reply that could not be queued."""
    if isinstance(exc, GatewayRefused):
        return f"Cổng kết nối từ chối (HTTP {exc.status})."
    return REJECTION_TEXTS.get(exc.reason, REJECTION_TEXTS["unavailable"])


async def deliver(push: Push, sender: str, text: str) -> str | None:
    """Send a staff message to the citizen on their channel; an error message, or None when queued."""
    if not PUSH_SENDER_RE.match(sender):
        return REJECTION_TEXTS["invalid_sender"]
    try:
        await push(sender, [BotMessage(text)])
    except PushRejected as exc:
        return rejection_text(exc)
    return None
