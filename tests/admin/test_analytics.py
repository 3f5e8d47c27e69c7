"""Dashboard analytics folded forward from the event broker's table: the same numbers, nobody dropped."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from admin import analytics, dashboard


def broker_db(path: Path) -> str:
    """An empty table shaped as Rasa's SQL event broker creates it."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
    db.commit()
    db.close()
    return f"sqlite:///{path}"


def publish(path: Path, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Append analytics records (``bot.event_broker.analytics_record``'s shape), as Rasa's replicas do."""
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO events (sender_id, data) VALUES (?, ?)", [(s, json.dumps(r)) for s, r in rows])
    db.commit()
    db.close()


def turn(sender: str, ts: float, intent: str, channel: str, action: str, code: str = "") -> list[tuple[str, Any]]:
    """One user turn: the message, the action, the answer and (optionally) the procedure slot."""
    rows = [(sender, {"event": "user", "timestamp": ts, "intent": intent, "channel": channel}),
            (sender, {"event": "action", "timestamp": ts + 0.2, "name": action}),
            (sender, {"event": "bot", "timestamp": ts + 1.0})]
    if code:
        rows.append((sender, {"event": "slot", "timestamp": ts + 1.0, "name": "procedure_code", "value": code}))
    return rows


def test_same_numbers_as_the_tracker_reading_and_incremental(tmp_path: Path) -> None:
    """Turns, fallbacks, top procedures and response times; a second refresh reads only the new rows."""
    path = tmp_path / "events.db"
    url = broker_db(path)
    now = time.time() - 60
    publish(path, [*turn("web:a", now - 10, "ask_procedure", "web", "action_answer_procedure", "1.004194"),
                   *turn("tg:1", now - 8, "ask_procedure", "telegram", "action_answer_procedure", "1.004194"),
                   ("web:a", {"event": "user", "timestamp": now - 6, "session_start": True}),
                   ("old:1", {"event": "user", "timestamp": now - 120 * 86400, "intent": "ask_procedure"})])
    feed = analytics.BrokerAnalytics(url)
    assert feed.refresh() == 10
    publish(path, [*turn("web:a", now - 5, "nlu_fallback", "web", "action_default_fallback"),
                   *turn("tg:1", now - 3, "greet", "telegram", "action_fallback")])
    assert feed.refresh() == 6 and feed.refresh() == 0
    stats = dashboard.Stats(dashboard.period(7)[0])
    feed.fill(stats)
    feed.close()
    assert stats.total_conversations == 2
    assert sum(stats.conversations["web"]) == 1 and sum(stats.conversations["telegram"]) == 1
    assert stats.user_turns == 4 and stats.procedure_questions == 2 and stats.fallbacks == 2
    assert stats.top_procedures == [("1.004194", 2)]
    assert stats.response_times == [1.0, 1.0, 1.0, 1.0]
    assert min(feed.days) > dashboard.period(100)[0][0]  # the 120-day-old row is forgotten


def test_every_user_is_counted_beyond_a_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More rows than a batch (the tracker reading had a row limit that dropped whole users): all counted."""
    monkeypatch.setattr(analytics, "BATCH", 7)
    path = tmp_path / "events.db"
    url = broker_db(path)
    now = time.time() - 60
    publish(path, [row for i in range(25) for row in turn(f"zalo:{i}", now - i, "greet", "zalo", "utter_greet")])
    feed = analytics.BrokerAnalytics(url)
    assert feed.refresh() == 75
    stats = dashboard.Stats(dashboard.period(7)[0])
    feed.fill(stats)
    feed.close()
    assert stats.total_conversations == 25 and stats.user_turns == 25


def test_retention_deletes_only_old_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows older than the cut-off go, in batches; newer ones stay."""
    monkeypatch.setattr(analytics, "BATCH", 4)
    path = tmp_path / "events.db"
    url = broker_db(path)
    now = time.time()
    publish(path, [("tg:1", {"event": "bot", "timestamp": now - 100 + i}) for i in range(10)]
            + [("tg:1", {"event": "bot", "timestamp": now - 10 + i}) for i in range(3)])
    assert analytics.purge_before(url, now - 50) == 10
    assert analytics.purge_before(url, now - 50) == 0
    left = sqlite3.connect(path).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert left == 3
