# mypy: allow-untyped-defs
"""Feedback actions: ask once per answered procedure or status, store the rating (keypad on voice)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.feedback import ActionAskFeedback, ActionStoreFeedback
from desk.feedback import FeedbackStore


def tracker(events: list[dict[str, Any]], slots: dict[str, Any] | None = None, sender: str = "web:abcdefgh",
            channel: str = "web", entities: list[dict[str, Any]] | None = None, text: str = "") -> Tracker:
    message = {"text": text, "intent": {"name": "x"}, "entities": entities or [], "metadata": {"channel": channel}}
    return Tracker.from_dict({"sender_id": sender, "slots": slots or {}, "latest_message": message,
                              "events": events, "paused": False, "followup_action": None, "active_loop": {},
                              "latest_action_name": "action_listen"})


def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


ANSWERED = [
    {"event": "user", "text": "le phi tam tru"},
    {"event": "action", "name": "action_answer_procedure"},
    {"event": "bot", "text": "Thủ tục “Đăng ký tạm trú” (mã 1.004194):\nPhí: 15.000 đồng\n"
                             "📌 Nguồn: thủ tục mã 1.004194 …"},
    {"event": "slot", "name": "procedure_code", "value": "1.004194"},
]


def test_feedback_is_asked_once_per_procedure_and_stored(tmp_path: Path):
    messages, slots = run(ActionAskFeedback(), tracker(ANSWERED))
    assert messages[0]["text"] == "Câu trả lời có hữu ích không?"
    assert [b["payload"] for b in messages[0]["buttons"]] == ['/feedback{"rating":"up"}', '/feedback{"rating":"down"}']
    assert slots["feedback_subject"] == "procedure:1.004194"
    again, _ = run(ActionAskFeedback(), tracker(ANSWERED, slots={"feedback_asked": slots["feedback_asked"]}))
    assert again == []  # same procedure, same conversation: no second question
    store = FeedbackStore(tmp_path / "feedback.db")
    thanks, cleared = run(ActionStoreFeedback(store), tracker(
        [], slots={"feedback_subject": "procedure:1.004194"}, entities=[{"entity": "rating", "value": "down"}],
        sender="tg:42", channel="telegram"))
    assert "xin lỗi" in thanks[0]["text"] and cleared == {"feedback_subject": None}
    rows = store.rows()
    assert [(r["procedure_code"], r["rating"], r["channel"], r["kind"]) for r in rows] == [
        ("1.004194", "down", "telegram", "procedure")]


def test_no_question_after_not_found_and_keypad_on_voice(tmp_path: Path):
    not_found = [{"event": "user", "text": "abc"}, {"event": "bot", "text": "Dạ, em chưa tìm thấy thủ tục nào"},
                 {"event": "slot", "name": "procedure_code", "value": "1.004194"}]
    assert run(ActionAskFeedback(), tracker(not_found))[0] == []
    status = [{"event": "user", "text": "1234"}, {"event": "slot", "name": "last_dossier_code", "value": "X-1"}]
    messages, slots = run(ActionAskFeedback(), tracker(status, sender="call:1", channel="voice"))
    assert "phím 1" in messages[0]["text"] and messages[0]["custom"]["dtmf"]["2"] == '/feedback{"rating":"down"}'
    assert slots["feedback_subject"] == "dossier"
    store = FeedbackStore(tmp_path / "feedback.db")
    run(ActionStoreFeedback(store), tracker([], slots={"feedback_subject": "dossier"}, sender="call:1",
                                            channel="voice", text="1"))
    assert [(r["kind"], r["rating"], r["channel"]) for r in store.rows()] == [("status", "up", "voice")]
