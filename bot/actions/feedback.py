"""Satisfaction: ask "was this useful?" after a procedure answer or a status lookup, and store the rating."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.settings import get_settings
from bot.channels import channel_from

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


class FeedbackStore:
    """Ratings in SQLite under the data dir (``feedback.db``); the admin dashboard reads it."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the database."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, created_at REAL NOT NULL,"
                " sender_hash TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
                " procedure_code TEXT NOT NULL DEFAULT '', rating TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS feedback_at ON feedback(created_at)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection, closed afterwards."""
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, sender_id: str, channel: str, kind: str, procedure_code: str, rating: str) -> int:
        """Store one rating (``up``/``down``); the sender id is kept only as a hash."""
        sender_hash = hashlib.sha256(f"tthc:{sender_id}".encode()).hexdigest()[:32]
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, sender_hash, channel, kind, procedure_code, rating)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), sender_hash, channel[:32], kind[:16], procedure_code[:64], rating),
            )
        return int(cur.lastrowid or 0)

    def rows(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Ratings at or after ``since`` (epoch seconds), oldest first."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            found = db.execute(
                "SELECT created_at, channel, kind, procedure_code, rating FROM feedback WHERE created_at >= ?"
                " ORDER BY created_at",
                (since,),
            ).fetchall()
        return [dict(r) for r in found]


def channel_of(tracker: Tracker) -> str:
    """The channel the user writes from (gateway metadata, else the sender id's namespace)."""
    return channel_from(tracker.sender_id, tracker.latest_message.get("metadata"))



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
        self.store = store or FeedbackStore(get_settings().data_dir / "feedback.db")

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


def rating_summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Count ``up``/``down`` ratings."""
    counts = {"up": 0, "down": 0}
    for row in rows:
        if row.get("rating") in counts:
            counts[row["rating"]] += 1
    return counts

