"""Satisfaction ratings in SQLite under the data dir (``feedback.db``); the admin dashboard reads them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common.db import SqliteDB
from desk.privacy import hash_sender

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, created_at REAL NOT NULL, sender_hash TEXT NOT NULL,
    channel TEXT NOT NULL, kind TEXT NOT NULL, procedure_code TEXT NOT NULL DEFAULT '', rating TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_at ON feedback(created_at);
"""


class FeedbackStore:
    """Ratings in SQLite under the data dir (``feedback.db``); the admin dashboard reads it."""

    def __init__(self, path: Path) -> None:
        """Use the database at ``path`` (created on first use)."""
        self.db = SqliteDB(path, SCHEMA, namespace="desk")

    def add(self, sender_id: str, channel: str, kind: str, procedure_code: str, rating: str) -> int:
        """Store one rating (``up``/``down``); the sender id is kept only as a hash."""
        with self.db.transaction() as db:
            cur = db.execute(
                "INSERT INTO feedback (created_at, sender_hash, channel, kind, procedure_code, rating)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (time.time(), hash_sender(sender_id), channel[:32], kind[:16], procedure_code[:64], rating),
            )
            return int(cur.fetchone()[0])

    def purge_before(self, cutoff: float) -> int:
        """Delete ratings given before ``cutoff`` (epoch seconds; retention); returns how many."""
        with self.db.transaction() as db:
            return int(db.execute("DELETE FROM feedback WHERE created_at < ?", (cutoff,)).rowcount)

    def rows(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Ratings at or after ``since`` (epoch seconds), oldest first."""
        with self.db.transaction() as db:
            found = db.execute(
                "SELECT created_at, channel, kind, procedure_code, rating FROM feedback WHERE created_at >= ?"
                " ORDER BY created_at",
                (since,),
            ).fetchall()
        return [dict(r) for r in found]
