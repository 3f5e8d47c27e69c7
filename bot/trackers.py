"""Helpers that read a Rasa tracker; outside bot/actions so the action server registers only actions."""

from __future__ import annotations

from rasa_sdk import Tracker

from common.channels import channel_from


def channel_of(tracker: Tracker) -> str:
    """The channel the user writes from (gateway metadata, else the sender id's namespace)."""
    return channel_from(tracker.sender_id, tracker.latest_message.get("metadata"))
