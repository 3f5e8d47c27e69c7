"""Action tests over trackers for the two-stage fallback and the human hand-over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.fallback import ActionFallback, previous_misses
from bot.actions.handoff import ActionHandoff
from desk.handoffs import HandoffQueue
from desk.unanswered import UnansweredInbox
from knowledge.schema import Channel, Procedure
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue


def user(text: str, intent: str) -> dict[str, Any]:
    """A user event."""
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def action(name: str) -> dict[str, Any]:
    """An action event."""
    return {"event": "action", "name": name}


def tracker(events: list[dict[str, Any]], sender: str = "web:t1", metadata: dict | None = None) -> Tracker:
    """A tracker whose latest message is the last user event."""
    last = next(e for e in reversed(events) if e["event"] == "user")
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {},
            "latest_message": {"text": last["text"], "intent": {"name": "x"}, "metadata": metadata or {}},
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def test_previous_misses_counts_consecutive_fallbacks_only() -> None:
    events = [
        user("a", "greet"), action("utter_greet"), action("action_listen"),
        user("b", "nlu_fallback"), action("action_fallback"), {"event": "rewind"}, action("action_listen"),
        user("c", "nlu_fallback"),
    ]
    assert previous_misses(events) == 1
    assert previous_misses(events[:4]) == 0


@pytest.fixture()
def service(tmp_path: Path) -> KnowledgeService:
    """A one-procedure catalogue searched by the keyword fallback searcher."""
    catalogue = Catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}")
    catalogue.upsert_many([
        Procedure(
            code="1.004194", title="Đăng ký tạm trú", field="Cư trú", source_url="https://example.invalid/1.004194",
            channels=[Channel(name="Trực tiếp", time_text="3 ngày làm việc", working_days=3,
                              fee_text="15.000 đồng", fee_vnd=15000)],
            aliases=["đăng ký tạm trú", "khai báo tạm trú"],
        )
    ])
    return KnowledgeService(catalogue)


async def test_first_miss_asks_to_rephrase_second_offers_human(service: KnowledgeService) -> None:
    first = [user("xyz qwerty", "nlu_fallback")]
    dispatcher = CollectingDispatcher()
    out = await ActionFallback(service).run(dispatcher, tracker(first), {})
    assert out == [{"event": "rewind", "timestamp": None}]
    assert "chưa hiểu" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/ask_procedure"

    rewound = [action("action_fallback"), {"event": "rewind"}, action("action_listen")]
    second = [*first, *rewound, user("abc", "nlu_fallback")]
    dispatcher = CollectingDispatcher()
    await ActionFallback(service).run(dispatcher, tracker(second), {})
    assert "tổng đài viên" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/request_human"

    third = [*second, *rewound, user("q", "nlu_fallback")]
    dispatcher = CollectingDispatcher()
    await ActionFallback(service).run(dispatcher, tracker(third), {})
    assert "chưa hiểu rõ" in dispatcher.messages[0]["text"], "after offering a human the cycle starts over"
    unanswered = [row.text for row in UnansweredInbox(service.catalogue.engine).questions(status=None, limit=10)]
    assert {"xyz qwerty", "abc", "q"} <= set(unanswered)


async def test_fallback_answers_a_clear_catalogue_match(service: KnowledgeService) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionFallback(service).run(dispatcher, tracker([user("dang ky tam tru", "nlu_fallback")]), {})
    assert "1.004194" in " ".join(m["text"] or "" for m in dispatcher.messages)
    assert {"event": "slot", "timestamp": None, "name": "procedure_code", "value": "1.004194"} in events


def test_answered_fallback_turn_is_not_a_miss() -> None:
    events = [
        user("dang ky tam tru", "nlu_fallback"), action("action_fallback"), {"event": "slot", "name": "procedure_code"},
        action("action_listen"), user("??", "nlu_fallback"),
    ]
    assert previous_misses(events) == 0


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private data dir for the action settings."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_NUMBER", "1900 5555")
    monkeypatch.setenv("DESK_OPEN_UNTIL", "00:00")  # the desk is never staffed here: the offline reply
    yield tmp_path


async def test_handoff_queues_once_per_sender_with_masked_transcript(data_dir: Path) -> None:
    events = [user("sdt cua toi 0912345678, cccd 001203004567", "inform"), user("cho gap nguoi that", "request_human")]
    act = ActionHandoff()
    dispatcher = CollectingDispatcher()
    await act.run(dispatcher, tracker(events, metadata={"channel": "zalo"}), {})
    await act.run(CollectingDispatcher(), tracker(events, metadata={"channel": "zalo"}), {})
    text = dispatcher.messages[0]["text"]
    assert "ngoài giờ làm việc" in text and "1900 5555" in text
    queue = HandoffQueue(data_dir / "handoff.db").open_requests()
    assert len(queue) == 1 and queue[0]["channel"] == "zalo" and queue[0]["sender_id"] == "web:t1"
    dump = str(queue[0]["transcript"])
    assert "0912345678" not in dump and "001203004567" not in dump


async def test_handoff_on_voice_asks_to_hold(data_dir: Path) -> None:
    dispatcher = CollectingDispatcher()
    await ActionHandoff().run(dispatcher, tracker([user("gap nguoi", "request_human")], sender="call:1"), {})
    assert dispatcher.messages[0]["custom"] == {"handoff": True}
    assert "giữ máy" in dispatcher.messages[0]["text"]
