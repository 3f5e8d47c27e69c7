"""Hand-over queue and feedback store over the shared SQLite helper, including an old queue file."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from desk.feedback import FeedbackStore
from desk.handoffs import HandoffQueue
from desk.privacy import hash_sender


def test_queue_keeps_one_open_request_per_sender(tmp_path: Path) -> None:
    queue = HandoffQueue(tmp_path / "handoff.db")
    first = queue.add("zalo:1", "zalo", [{"from": "user", "text": "a"}])
    assert queue.add("zalo:1", "zalo", [{"from": "user", "text": "b"}]) == first
    (request,) = queue.open_requests()
    assert request["transcript"] == [{"from": "user", "text": "b"}]
    assert queue.add_reply(first, "staff", "xin chào") > 0
    assert queue.mark_handled(first, "staff") and not queue.mark_handled(first, "staff")
    assert queue.get(first)["replies"][0]["text"] == "xin chào"  # type: ignore[index]
    assert queue.counts() == {"handled": 1} and queue.get(999) is None


def test_queue_file_from_before_staff_replies_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "handoff.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE handoffs (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL, channel TEXT NOT NULL,"
                   " created_at REAL NOT NULL, transcript TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open')")
        db.execute("INSERT INTO handoffs (sender_id, channel, created_at, transcript)"
                   " VALUES ('tg:1', 'telegram', 1, '[]')")
    queue = HandoffQueue(path)
    assert queue.mark_handled(1, "staff")
    assert queue.requests("handled")[0]["handled_by"] == "staff"


def test_feedback_keeps_only_a_hash_of_the_sender(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.db")
    store.add("tg:42", "telegram", "procedure", "1.004194", "up")
    (row,) = store.rows()
    assert row["rating"] == "up" and row["procedure_code"] == "1.004194"
    with contextlib.closing(sqlite3.connect(tmp_path / "feedback.db")) as db:
        (stored,) = db.execute("SELECT sender_hash FROM feedback").fetchone()
    assert stored == hash_sender("tg:42") and store.rows(since=10**12) == []
