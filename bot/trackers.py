"""Helpers that read a Rasa tracker; outside bot/actions so the action server registers only actions."""

from __future__ import annotations

from rasa_sdk import Tracker

from common.channels import channel_from


def channel_of(tracker: Tracker) -> str:
    """The channel the user writes from (gateway metadata, else the sender id's namespace)."""
    return channel_from(tracker.sender_id, tracker.latest_message.get("metadata"))


def entity_of(tracker: Tracker, name: str) -> str | None:
    """The latest message's first value of entity ``name``, stripped; None when absent or empty."""
    value = next(tracker.get_latest_entity_values(name), None)
    text = str(value).strip() if value is not None else ""
    return text or None
