"""The live desk store: sessions, masking, atomic claims, outcomes, retention; office hours."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from desk import hours
from desk.live import ClaimConflict, LiveDesk
from desk.settings import DeskSettings


def test_one_open_session_per_sender_with_masked_history(tmp_path: Path) -> None:
    live = LiveDesk(tmp_path / "live.db")
    history = [{"from": "user", "text": "số tôi 0912345678"}, {"from": "bot", "text": "Dạ"}]
    first, new = live.start("web:abcdefgh12", "web", history=history, topic="procedure:1.004194")
    again, new_again = live.start("web:abcdefgh12", "web")
    assert new and not new_again and again["id"] == first["id"]
    lines = live.messages(first["id"])
    assert [m["kind"] for m in lines] == ["history_user", "history_bot"]
    assert "0912345678" not in lines[0]["text"] and lines[0]["text"].endswith("78")
    live.add_message(first["id"], "citizen", "cccd 001203004567 của tôi")
    assert "001203004567" not in live.messages(first["id"])[-1]["text"]
    with pytest.raises(ValueError):
        live.add_message(first["id"], "html", "x")


def test_claim_is_atomic_under_concurrent_staff(tmp_path: Path) -> None:
    live = LiveDesk(tmp_path / "live.db")
    session, _ = live.start("web:abcdefgh12", "web")
    winners: list[str] = []
    losers: list[str] = []
    barrier = threading.Barrier(8)

    def claim(name: str) -> None:
        barrier.wait()
        try:
            live.claim(session["id"], name)
            winners.append(name)
        except ClaimConflict as exc:
            losers.append(exc.holder)

    threads = [threading.Thread(target=claim, args=(f"staff{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7 and set(losers) == set(winners)
    assert live.get(session["id"])["claimed_by"] == winners[0]
    live.claim(session["id"], winners[0])  # claiming again what one holds is fine


def test_queue_position_response_time_outcome_and_purge(tmp_path: Path) -> None:
    live = LiveDesk(tmp_path / "live.db")
    a, _ = live.start("web:aaaaaaaa01", "web")
    b, _ = live.start("tg:1", "telegram")
    assert (live.position(a["id"]), live.position(b["id"])) == (1, 2)
    seq = live.seq()
    live.claim(a["id"], "lan")
    assert live.seq() > seq and live.position(b["id"]) == 1
    live.add_message(a["id"], "staff", "chào anh", "lan")
    assert live.get(a["id"])["first_reply_at"] is not None
    with pytest.raises(ValueError):
        live.close(a["id"], "lan", "whatever")
    assert live.close(a["id"], "lan", "resolved")["outcome"] == "resolved"
    assert live.close(a["id"], "lan", "resolved") is None
    assert live.live_for("web:aaaaaaaa01") is None and live.live_for("tg:1") is not None
    assert live.purge_before(2**40) == 1  # only closed sessions go
    assert live.get(a["id"]) is None and live.messages(a["id"]) == [] and live.get(b["id"]) is not None


def test_offline_request_turns_live_when_claimed(tmp_path: Path) -> None:
    live = LiveDesk(tmp_path / "live.db")
    row, _ = live.start("zalo:u1", "zalo", status="offline")
    assert live.live_for("zalo:u1") is None  # the bot keeps answering outside office hours
    assert live.claim(row["id"], "lan")["status"] == "active"
    assert live.live_for("zalo:u1")["id"] == row["id"]


def test_office_hours() -> None:
    days, start, end = hours.parse_days("1-5"), hours.parse_clock("07:30"), hours.parse_clock("17:00")
    monday_9 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # 09:00 in Vietnam
    assert hours.is_open(days, start, end, monday_9)
    assert not hours.is_open(days, start, end, datetime(2026, 11, 30, 10, 30, tzinfo=timezone.utc))  # 17:30
    assert not hours.is_open(days, start, end, datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc))  # Saturday
    assert hours.parse_days("1,3,6-7") == {1, 3, 6, 7}
    for bad in ("0-5", "x", "5-1"):
        with pytest.raises(ValueError):
            hours.parse_days(bad)
    with pytest.raises(ValueError):
        hours.parse_clock("25:00")


def test_desk_settings_validate_hours() -> None:
    from common.settings import SettingsError

    with pytest.raises(SettingsError, match="DESK_OPEN_FROM"):
        DeskSettings.from_env({"DESK_OPEN_FROM": "7h30"})
    settings = DeskSettings.from_env({"DESK_MINUTES_PER_CITIZEN": "4"})
    assert settings.wait_minutes(3) == 12 and settings.wait_minutes(0) == 1
