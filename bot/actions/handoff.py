"""Hand-over to a human: pause the bot and put the citizen in the live queue of the staff desk."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from bot.trackers import channel_of
from common.settings import get_settings
from common.text import mask_pii
from desk.handoffs import HandoffQueue
from desk.live import LiveDesk
from desk.settings import DeskSettings
from desk.takeover import BACK_BUTTON_TITLE

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


def topic_of(tracker: Tracker) -> str:
    """What the citizen was asking about: ``procedure:<code>`` or ``dossier:<code>`` ('' when unknown)."""
    procedure = tracker.get_slot("procedure_code")
    dossier = tracker.get_slot("last_dossier_code") or tracker.get_slot("dossier_code")
    if procedure:
        return f"procedure:{procedure}"
    return f"dossier:{dossier}" if dossier else ""


def live_text(ticket: int, position: int, minutes: int) -> str:
    """What the citizen reads when a live hand-over starts."""
    reference = f" (mã yêu cầu #{ticket})" if ticket else ""
    ahead = "Anh/chị là người tiếp theo" if position <= 1 else f"Phía trước anh/chị còn {position - 1} người"
    return (f"Dạ, em đã chuyển anh/chị tới cán bộ của Trung tâm Phục vụ hành chính công{reference}. "
            f"{ahead}; cán bộ sẽ trả lời ngay tại đây trong khoảng {minutes} phút. "
            f"Từ bây giờ tin nhắn của anh/chị được chuyển thẳng tới cán bộ. "
            f"Muốn quay lại trợ lý ảo, anh/chị nhắn \"{BACK_BUTTON_TITLE}\".")


def offline_text(ticket: int, office_hours: str, hotline: str) -> str:
    """What the citizen reads when they ask for a human outside office hours."""
    reference = f" (mã yêu cầu #{ticket})" if ticket else ""
    return (f"Dạ, hiện đã ngoài giờ làm việc của cán bộ ({office_hours}). Em đã ghi lại yêu cầu của anh/chị"
            f"{reference}; cán bộ sẽ nhắn lại anh/chị ngay tại cuộc trò chuyện này khi vào giờ làm việc. "
            f"Nếu muốn được gọi lại, anh/chị gọi đường dây nóng {hotline} trong giờ làm việc. "
            f"Trong lúc chờ, em vẫn trả lời các câu hỏi về thủ tục và hồ sơ ạ.")


class ActionHandoff(Action):
    """Queue the conversation for a human, pause the bot while staff answer, and say honestly what happens."""

    def __init__(self) -> None:
        """Open the queues once at start-up."""
        data_dir = get_settings(DeskSettings).data_dir
        self.queue = HandoffQueue(data_dir / "handoff.db")
        self.live = LiveDesk(data_dir / "live.db")

    def name(self) -> str:
        """Action name."""
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Record the request, open a live session (or an offline request) and reply."""
        settings = get_settings(DeskSettings)
        channel = channel_of(tracker)
        transcript = transcript_of(tracker)
        session: dict[str, Any] | None = None
        try:
            ticket = self.queue.add(tracker.sender_id, channel, transcript)
            logger.info("handoff queued id=%s channel=%s", ticket, channel)
        except sqlite3.Error:
            logger.exception("could not queue a handoff")
            ticket = 0
        open_now = settings.desk_open()
        try:
            session, _ = self.live.start(
                tracker.sender_id, channel, status="waiting" if open_now else "offline",
                topic=topic_of(tracker), handoff_id=ticket or None, history=transcript)
        except sqlite3.Error:
            logger.exception("could not open a live hand-over session")
        if channel == "voice":
            dispatcher.utter_message(
                text="Dạ, em xin chuyển cuộc gọi tới tổng đài viên. Anh/chị vui lòng giữ máy.",
                json_message={"handoff": True},
            )
            return []
        if session is None or not open_now:
            dispatcher.utter_message(text=offline_text(ticket, settings.office_hours, settings.hotline))
            return []
        position = self.live.position(int(session["id"]))
        dispatcher.utter_message(text=live_text(ticket, position, settings.wait_minutes(position)))
        return [ConversationPaused()]
