"""Satisfaction ratings in SQLite under the data dir (``feedback.db``); the admin dashboard reads them."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
