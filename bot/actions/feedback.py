"""Satisfaction: ask "was this useful?" after a procedure answer or a status lookup, and store the rating."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.trackers import channel_of
from common.settings import get_settings
from desk.feedback import FeedbackStore
from desk.settings import DeskSettings

logger = logging.getLogger(__name__)

QUESTION = "Câu trả lời có hữu ích không?"
VOICE_QUESTION = "Câu trả lời có hữu ích không ạ? Anh/chị bấm phím 1 nếu có, phím 2 nếu không."
SUBJECT_SLOT = "feedback_subject"
ASKED_SLOT = "feedback_asked"
RATINGS = {"up": "up", "down": "down", "1": "up", "2": "down", "👍": "up", "👎": "down", "yes": "up", "no": "down"}
UP_PAYLOAD = '/feedback{"rating":"up"}'
DOWN_PAYLOAD = '/feedback{"rating":"down"}'
BUTTONS = [{"title": "👍 Có", "payload": UP_PAYLOAD}, {"title": "👎 Không", "payload": DOWN_PAYLOAD}]
STATUS_SUBJECT = "dossier"


def _events_since_user(tracker: Tracker) -> list[dict[str, Any]]:
    """Events after the latest user message."""
    events = list(tracker.events)
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "user":
            return events[i + 1 :]
    return events


def subject_of_turn(tracker: Tracker) -> str | None:
    """What this turn answered: ``procedure:<code>`` for a cited answer, ``dossier`` for a status, else None."""
    recent = _events_since_user(tracker)
    bot_texts = [str(e.get("text") or "") for e in recent if e.get("event") == "bot"]
    for event in recent:
        if event.get("event") != "slot":
            continue
        name, value = event.get("name"), event.get("value")
        if name == "last_dossier_code" and value:
            return STATUS_SUBJECT
        # Only a real answer cites the code (a "not found" or "which one?" reply does not).
        if name == "procedure_code" and value and any(f"thủ tục mã {value}" in t for t in bot_texts):
            return f"procedure:{value}"
    return None


class ActionAskFeedback(Action):
    """Ask once per procedure (and once per status lookup) and conversation whether the answer helped."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Ask when this turn answered something not rated yet; otherwise stay silent."""
        subject = subject_of_turn(tracker)
        asked = tracker.get_slot(ASKED_SLOT) or []
        if not isinstance(asked, list):
            asked = []
        if subject is None or subject in asked:
            return []
        if channel_of(tracker) == "voice":
            dispatcher.utter_message(
                text=VOICE_QUESTION,
                json_message={"dtmf": {"1": UP_PAYLOAD, "2": DOWN_PAYLOAD}, "text": VOICE_QUESTION},
            )
        else:
            dispatcher.utter_message(text=QUESTION, buttons=BUTTONS)
        return [SlotSet(SUBJECT_SLOT, subject), SlotSet(ASKED_SLOT, [*asked, subject][-20:])]


class ActionStoreFeedback(Action):
    """Store a 👍/👎 (keypad 1/2 on voice) with the procedure code and channel, and thank the citizen."""

    def __init__(self, store: FeedbackStore | None = None) -> None:
        """Open the store once at start-up."""
        self.store = store or FeedbackStore(get_settings(DeskSettings).data_dir / "feedback.db")

    def name(self) -> str:
        """Action name."""
        return "action_store_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Record the rating of the subject last asked about."""
        raw = next(tracker.get_latest_entity_values("rating"), None)
        if raw is None:
            text = str(tracker.latest_message.get("text") or "").strip()
            raw = text if text in RATINGS else None
        rating = RATINGS.get(str(raw).strip().lower()) if raw is not None else None
        subject = tracker.get_slot(SUBJECT_SLOT)
        if rating is None or not subject:
            dispatcher.utter_message(text="Dạ, em cảm ơn anh/chị. Anh/chị cần hỗ trợ gì thêm cứ nhắn cho em nhé.")
            return []
        subject = str(subject)
        kind, _, code = subject.partition(":")
        if kind != "procedure":
            kind, code = "status", ""
        if kind == "procedure" and not code:
            code = str(tracker.get_slot("procedure_code") or "")
        try:
            self.store.add(tracker.sender_id, channel_of(tracker), kind, code, rating)
            logger.info("feedback %s kind=%s code=%s", rating, kind, code or "-")
        except sqlite3.Error:
            logger.exception("could not store feedback")
        if rating == "up":
            dispatcher.utter_message(text="Dạ, em cảm ơn anh/chị đã đánh giá! Anh/chị cần hỏi gì thêm cứ nhắn em nhé.")
        else:
            dispatcher.utter_message(
                text="Dạ, em xin lỗi vì câu trả lời chưa hữu ích. Em đã ghi nhận để cải thiện. "
                "Anh/chị có thể hỏi lại cụ thể hơn hoặc gặp tổng đài viên.",
                buttons=[{"title": "Gặp tổng đài viên", "payload": "/request_human"}],
            )
        return [SlotSet(SUBJECT_SLOT, None)]
