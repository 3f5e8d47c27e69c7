"""Hand-over queue: conversations waiting for the one-stop centre's staff, in SQLite under the data dir."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from common.db import SqliteDB
from common.text import mask_pii

SCHEMA = """
CREATE TABLE IF NOT EXISTS handoffs (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL, channel TEXT NOT NULL,
    created_at REAL NOT NULL, transcript TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open');
CREATE TABLE IF NOT EXISTS handoff_replies (id INTEGER PRIMARY KEY, handoff_id INTEGER NOT NULL, at REAL NOT NULL,
    author TEXT NOT NULL, text TEXT NOT NULL);
"""


def masked_transcript(transcript: list[dict[str, str]]) -> list[dict[str, str]]:
    """The transcript with phone and CCCD numbers masked in every line."""
    return [line | {"text": mask_pii(str(line.get("text") or ""))} for line in transcript]


def _loaded(row: sqlite3.Row) -> dict[str, Any]:
    """A stored request as a dict; its transcript masked again (rows written before masking was complete)."""
    return dict(row) | {"transcript": masked_transcript(json.loads(row["transcript"]))}


def _add_handled_columns(conn: sqlite3.Connection) -> None:
    """Add the columns that queues created before staff could close requests lack."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(handoffs)")}
    if "handled_at" not in columns:
        conn.execute("ALTER TABLE handoffs ADD COLUMN handled_at REAL")
    if "handled_by" not in columns:
        conn.execute("ALTER TABLE handoffs ADD COLUMN handled_by TEXT NOT NULL DEFAULT ''")


class HandoffQueue:
    """Open hand-over requests, stored in SQLite under the data dir (the admin console reads it)."""

    def __init__(self, path: Path) -> None:
        """Use the queue database at ``path`` (created on first use)."""
        self.db = SqliteDB(path, SCHEMA, _add_handled_columns, namespace="desk")

    def add(self, sender_id: str, channel: str, transcript: list[dict[str, str]]) -> int:
        """Queue a request unless this sender already has an open one; return its id (transcript masked)."""
        transcript = masked_transcript(transcript)
        with self.db.transaction(immediate=True) as db:
            row = db.execute(
                "SELECT id FROM handoffs WHERE sender_id = ? AND status = 'open'", (sender_id,)
            ).fetchone()
            if row:
                db.execute(
                    "UPDATE handoffs SET transcript = ? WHERE id = ?",
                    (json.dumps(transcript, ensure_ascii=False), row[0]),
                )
                return int(row[0])
            cur = db.execute(
                "INSERT INTO handoffs (sender_id, channel, created_at, transcript) VALUES (?, ?, ?, ?) RETURNING id",
                (sender_id, channel, time.time(), json.dumps(transcript, ensure_ascii=False)),
            )
            return int(cur.fetchone()[0])

    def open_requests(self) -> list[dict[str, Any]]:
        """Return open requests, oldest first."""
        with self.db.transaction() as db:
            rows = db.execute("SELECT * FROM handoffs WHERE status = 'open' ORDER BY created_at").fetchall()
        return [_loaded(r) for r in rows]

    def requests(self, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Return requests (all, ``open`` or ``handled``), open ones first, then newest first."""
        query = "SELECT * FROM handoffs"
        params: tuple[Any, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            params = (status,)
        query += " ORDER BY status = 'open' DESC, created_at DESC LIMIT ?"
        with self.db.transaction() as db:
            rows = db.execute(query, (*params, limit)).fetchall()
        return [_loaded(r) for r in rows]

    def get(self, request_id: int) -> dict[str, Any] | None:
        """Return one request with its staff replies, or None."""
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM handoffs WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                return None
            replies = db.execute(
                "SELECT at, author, text FROM handoff_replies WHERE handoff_id = ? ORDER BY id", (request_id,)
            ).fetchall()
        return _loaded(row) | {"replies": [dict(r) for r in replies]}

    def mark_handled(self, request_id: int, by: str) -> bool:
        """Close an open request; False when unknown or already handled."""
        with self.db.transaction() as db:
            cur = db.execute(
                "UPDATE handoffs SET status = 'handled', handled_at = ?, handled_by = ?"
                " WHERE id = ? AND status = 'open'",
                (time.time(), by, request_id),
            )
        return cur.rowcount == 1

    def add_reply(self, request_id: int, author: str, text: str) -> int:
        """Record a staff reply sent to the citizen (phone/CCCD masked); return its id."""
        with self.db.transaction() as db:
            cur = db.execute(
                "INSERT INTO handoff_replies (handoff_id, at, author, text) VALUES (?, ?, ?, ?) RETURNING id",
                (request_id, time.time(), author, mask_pii(text)),
            )
            return int(cur.fetchone()[0])

    def purge_before(self, cutoff: float) -> int:
        """Delete requests (and their staff replies) created before ``cutoff`` (epoch seconds); returns how many."""
        with self.db.transaction(immediate=True) as db:
            db.execute(
                "DELETE FROM handoff_replies WHERE handoff_id IN (SELECT id FROM handoffs WHERE created_at < ?)",
                (cutoff,),
            )
            return int(db.execute("DELETE FROM handoffs WHERE created_at < ?", (cutoff,)).rowcount)

    def counts(self) -> dict[str, int]:
        """Number of requests per status."""
        with self.db.transaction() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM handoffs GROUP BY status").fetchall()
        return {str(status): int(n) for status, n in rows}
