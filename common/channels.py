"""Channel names and how to tell a conversation's channel (shared by actions, gateway and admin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Sender ids are namespaced by the gateway: tg:<chat_id>, zalo:<user_id>, web:<id>, call:<call-id>,
# sms:<keyed hash of the phone number>.
CHANNEL_BY_PREFIX = {"tg": "telegram", "zalo": "zalo", "web": "web", "call": "voice", "sms": "sms"}


def channel_from(sender_id: str, metadata: Mapping[str, Any] | None) -> str:
    """The channel named in the message metadata, else the sender id's namespace, else ``rest``."""
    channel = metadata.get("channel") if isinstance(metadata, Mapping) else None
    if isinstance(channel, str) and channel:
        return channel
    prefix = sender_id.split(":", 1)[0] if ":" in sender_id else ""
    return CHANNEL_BY_PREFIX.get(prefix, "rest")
