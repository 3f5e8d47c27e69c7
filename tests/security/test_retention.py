"""Personal data is not kept forever: one retention pass deletes what is older than RETENTION_DAYS (§5)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from admin.retention import RetentionProcessSettings, run_once
from common.settings import REPO_ROOT
from desk.feedback import FeedbackStore
from desk.handoffs import HandoffQueue
from desk.unanswered import UnansweredInbox, unanswered_questions

DAY = 86400.0
# Rasa's SQLTrackerStore table, as Rasa 3.6 creates it.
EVENTS = """CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255)
    NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"""


def _seed(data: Path, now: float) -> None:
    """One old (100 days) and one recent (1 day) record in every store."""
    with sqlite3.connect(data / "tracker.db") as conn:
        conn.execute(EVENTS)
        for sender, age in (("web:old", 100), ("web:new", 1)):
            conn.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, 'user', ?, ?)",
                         (sender, now - age * DAY, json.dumps({"text": "sđt 0912345678"})))
    queue = HandoffQueue(data / "handoff.db")
    for sender, age in (("web:old", 100), ("web:new", 1)):
        ticket = queue.add(sender, "web", [{"from": "user", "text": "giúp tôi"}])
        queue.add_reply(ticket, "staff", "dạ")
        with queue.db.transaction() as conn:
            conn.execute("UPDATE handoffs SET created_at = ? WHERE id = ?", (now - age * DAY, ticket))
    feedback = FeedbackStore(data / "feedback.db")
    for sender, age in (("web:old", 100), ("web:new", 1)):
        with feedback.db.transaction() as conn:
            conn.execute("INSERT INTO feedback (created_at, sender_hash, channel, kind, rating)"
                         " VALUES (?, ?, 'web', 'answer', 'up')", (now - age * DAY, sender))
    inbox = UnansweredInbox(f"sqlite:///{data / 'catalogue.db'}")
    for sender, age in (("web:old", 100), ("web:new", 1)):
        qid = inbox.log("câu hỏi", "web", sender)
        with inbox.engine.begin() as conn:
            conn.execute(update(unanswered_questions).where(unanswered_questions.c.id == qid)
                         .values(created_at=datetime.now(timezone.utc) - timedelta(days=age)))
    inbox.engine.dispose()


def test_one_pass_deletes_what_is_older_than_the_retention_age(tmp_path: Path) -> None:
    now = time.time()
    _seed(tmp_path, now)
    settings = RetentionProcessSettings(data_dir=tmp_path, retention_days=90,
                                        tracker_url=f"sqlite:///{tmp_path / 'tracker.db'}",
                                        catalogue_db_url=f"sqlite:///{tmp_path / 'catalogue.db'}")
    report = run_once(settings)
    assert (report.tracker_events, report.handoffs, report.feedback, report.unanswered) == (1, 1, 1, 1)

    with sqlite3.connect(tmp_path / "tracker.db") as conn:
        assert [r[0] for r in conn.execute("SELECT sender_id FROM events")] == ["web:new"]
    queue = HandoffQueue(tmp_path / "handoff.db")
    assert [r["sender_id"] for r in queue.requests()] == ["web:new"]
    with queue.db.transaction() as conn:
        assert conn.execute("SELECT COUNT(*) FROM handoff_replies").fetchone()[0] == 1
    assert len(FeedbackStore(tmp_path / "feedback.db").rows()) == 1
    assert UnansweredInbox(f"sqlite:///{tmp_path / 'catalogue.db'}").count() == 1
    assert run_once(settings).total == 0


@pytest.mark.parametrize("variable", ["RETENTION_DAYS", "RETENTION_INTERVAL_S"])
def test_retention_daemon_refuses_a_malformed_setting(variable: str, tmp_path: Path) -> None:
    env = {**os.environ, "TTHC_TEST": "1", "TTHC_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT),
           variable: "abc"}
    done = subprocess.run([sys.executable, "-m", "admin.retention", "--once"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert f"configuration error: {variable}='abc': expected " in done.stderr.splitlines()[-1]


def test_run_script_starts_the_retention_job() -> None:
    assert "python -m admin.retention" in (REPO_ROOT / "scripts" / "run.sh").read_text()
