"""What Rasa answered to a caller turn, keeping the custom payloads (hand-over, hang-up) the gateway drops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.messages import parse_message


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
