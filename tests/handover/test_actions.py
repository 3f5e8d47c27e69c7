"""action_handoff: in office hours it pauses the bot and quotes the queue; outside it keeps the request; calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import ActionHandoff
from desk.live import LiveDesk


def tracker(sender: str, channel: str, slots: dict[str, Any] | None = None) -> Tracker:
    events = [{"event": "user", "text": "làm tạm trú, sđt 0912345678", "parse_data": {}},
              {"event": "bot", "text": "Thủ tục 1.004194 ..."},
              {"event": "user", "text": "gặp tổng đài viên", "parse_data": {}}]
    return Tracker.from_dict({
        "sender_id": sender, "slots": slots or {}, "events": events, "paused": False, "followup_action": None,
        "active_loop": {}, "latest_action_name": "action_listen",
        "latest_message": {"text": "gặp tổng đài viên", "intent": {"name": "request_human"},
                           "metadata": {"channel": channel}},
    })


async def test_in_office_hours_pause_and_queue_position(data_dir: Path) -> None:
    act = ActionHandoff()
    first, second = CollectingDispatcher(), CollectingDispatcher()
    events = await act.run(first, tracker("web:aaaaaaaa01", "web", {"procedure_code": "1.004194"}), {})
    assert events == [{"event": "pause", "timestamp": None}]
    assert "người tiếp theo" in first.messages[0]["text"] and "5 phút" in first.messages[0]["text"]
    await act.run(second, tracker("tg:9", "telegram", {"last_dossier_code": "000.00.20.H57-240101-0001"}), {})
    assert "Phía trước anh/chị còn 1 người" in second.messages[0]["text"] and "10 phút" in second.messages[0]["text"]
    live = LiveDesk(data_dir / "live.db")
    rows = live.queue()
    assert [(r["channel"], r["topic"], r["status"]) for r in rows] == [
        ("web", "procedure:1.004194", "waiting"), ("telegram", "dossier:000.00.20.H57-240101-0001", "waiting")]
    history = live.messages(rows[0]["id"])
    assert [m["kind"] for m in history] == ["history_user", "history_bot", "history_user"]
    assert "0912345678" not in history[0]["text"]


async def test_outside_office_hours_request_kept(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_OPEN_UNTIL", "00:00")
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker("zalo:u1", "zalo"), {})
    assert events == []
    text = dispatcher.messages[0]["text"]
    assert "ngoài giờ làm việc" in text and "nhắn lại" in text and "gọi lại" in text
    (row,) = LiveDesk(data_dir / "live.db").queue()
    assert row["status"] == "offline"


async def test_a_call_shows_its_transcript_at_the_desk_and_is_never_paused(data_dir: Path) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker("call:abc123", "voice"), {})
    assert events == [] and dispatcher.messages[0]["custom"] == {"handoff": True}
    (row,) = LiveDesk(data_dir / "live.db").queue()
    assert row["channel"] == "voice" and row["status"] == "waiting"
    assert len(LiveDesk(data_dir / "live.db").messages(row["id"])) == 3
