"""Hand-over to a human: queue the conversation for the one-stop centre's staff."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.trackers import channel_of
from common.settings import get_settings
from common.text import mask_pii
from desk.handoffs import HandoffQueue
from desk.settings import DeskSettings

logger = logging.getLogger(__name__)

TRANSCRIPT_TURNS = 12


def transcript_of(tracker: Tracker, turns: int = TRANSCRIPT_TURNS) -> list[dict[str, str]]:
    """The last user/bot messages, with phone and CCCD numbers masked."""
    lines = [
        {"from": e["event"], "text": mask_pii(e.get("text") or "")}
        for e in tracker.events
        if e.get("event") in ("user", "bot") and e.get("text")
    ]
    return lines[-turns:]


class ActionHandoff(Action):
    """Queue the conversation for a human and tell the citizen honestly what happens next."""

    def __init__(self) -> None:
        """Open the queue once at start-up."""
        self.queue = HandoffQueue(get_settings(DeskSettings).data_dir / "handoff.db")

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Record the request and reply."""
        settings = get_settings(DeskSettings)
        channel = channel_of(tracker)
        try:
            ticket = self.queue.add(tracker.sender_id, channel, transcript_of(tracker))
            logger.info("handoff queued id=%s channel=%s", ticket, channel)
        except sqlite3.Error:
            logger.exception("could not queue a handoff")
            ticket = 0
        if channel == "voice":
            dispatcher.utter_message(
                text="Dạ, em xin chuyển cuộc gọi tới tổng đài viên. Anh/chị vui lòng giữ máy.",
                json_message={"handoff": True},
            )
            return []
        reference = f" (mã yêu cầu #{ticket})" if ticket else ""
        dispatcher.utter_message(
            text=(
                f"Dạ, em đã chuyển yêu cầu của anh/chị tới tổng đài viên{reference}. "
                f"Cán bộ sẽ trả lời anh/chị ngay tại cuộc trò chuyện này trong giờ làm việc "
                f"({settings.office_hours}). Nếu cần gấp, anh/chị gọi đường dây nóng {settings.hotline}."
            )
        )
        return []
