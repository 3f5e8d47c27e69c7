"""Live hand-over sessions: who waits for staff, who answers, and every message of the take-over.

A SQLite file by default; the ``desk`` schema on PostgreSQL with ``STATE_DB_URL`` (migration 0003).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from common.db import SqliteDB
from common.text import mask_pii

SCHEMA = """
CREATE TABLE IF NOT EXISTS live_sessions (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL, channel TEXT NOT NULL,
    status TEXT NOT NULL, started_by TEXT NOT NULL DEFAULT 'citizen', topic TEXT NOT NULL DEFAULT '',
    handoff_id INTEGER, created_at REAL NOT NULL, claimed_by TEXT NOT NULL DEFAULT '', claimed_at REAL,
    first_reply_at REAL, closed_at REAL, closed_by TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS live_sessions_sender ON live_sessions (sender_id, status);
CREATE INDEX IF NOT EXISTS live_sessions_created ON live_sessions (created_at);
CREATE TABLE IF NOT EXISTS live_messages (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, at REAL NOT NULL,
    kind TEXT NOT NULL, author TEXT NOT NULL DEFAULT '', text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS live_messages_session ON live_messages (session_id, id);
CREATE TABLE IF NOT EXISTS live_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO live_seq (id, seq) VALUES (1, 0);
"""
# waiting: no staff yet, bot paused; active: claimed by a staff member; offline: asked outside office hours
# (the bot keeps answering, staff reply later); closed: over, with an outcome.
LIVE = ("waiting", "active")
OPEN = ("waiting", "active", "offline")
OUTCOMES = {
    "resolved": "Đã giải quyết",
    "returned_to_bot": "Trả lại trợ lý ảo",
    "callback": "Cần gọi lại",
    "abandoned": "Người dân rời đi",
    "other": "Khác",
}
KINDS = ("citizen", "staff", "bot", "note", "system", "history_user", "history_bot")
MAX_TEXT = 4000


class ClaimConflict(Exception):
    """Another staff member holds the session (``holder``), or it is closed (``holder`` empty)."""

    def __init__(self, holder: str) -> None:
        """Keep who holds it."""
        super().__init__(holder)
        self.holder = holder


def _bump(db: sqlite3.Connection) -> int:
    """Advance the change counter that live views poll; return the new value."""
    db.execute("UPDATE live_seq SET seq = seq + 1 WHERE id = 1")
    return int(db.execute("SELECT seq FROM live_seq WHERE id = 1").fetchone()[0])


class LiveDesk:
    """Sessions and their messages; every write masks personal data and advances the change counter."""

    def __init__(self, path: Path, keep_open: bool = False) -> None:
        """Use the database at ``path`` (created on first use); ``keep_open``: each thread keeps its connection."""
        self.db = SqliteDB(path, SCHEMA, namespace="desk", keep_open=keep_open)

    def seq(self) -> int:
        """The change counter: it moves whenever a session or a message changes."""
        with self.db.transaction() as db:
            return int(db.execute("SELECT seq FROM live_seq WHERE id = 1").fetchone()[0])

    def start(self, sender_id: str, channel: str, *, status: str = "waiting", topic: str = "",
              handoff_id: int | None = None, started_by: str = "citizen", claimed_by: str = "",
              history: list[dict[str, str]] | None = None) -> tuple[dict[str, Any], bool]:
        """Open a session for the sender unless one is open; return it and whether it is new."""
        now = time.time()
        with self.db.transaction(immediate=True) as db:
            row = db.execute(
                f"SELECT * FROM live_sessions WHERE sender_id = ? AND status IN {OPEN} ORDER BY id DESC LIMIT 1",
                (sender_id,),
            ).fetchone()
            if row is not None and not (row["status"] == "offline" and status in LIVE):
                return dict(row), False
            if row is not None:  # an offline request becomes live once staff are on duty
                db.execute("UPDATE live_sessions SET status = ?, claimed_by = ?, claimed_at = ? WHERE id = ?",
                           (status, claimed_by, now if claimed_by else None, row["id"]))
                session_id = int(row["id"])
            else:
                session_id = int(db.execute(
                    "INSERT INTO live_sessions (sender_id, channel, status, started_by, topic, handoff_id, created_at,"
                    " claimed_by, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (sender_id, channel, status, started_by, mask_pii(topic)[:200], handoff_id, now, claimed_by,
                     now if claimed_by else None),
                ).fetchone()[0])
                for line in history or []:
                    kind = "history_user" if line.get("from") == "user" else "history_bot"
                    db.execute("INSERT INTO live_messages (session_id, at, kind, text) VALUES (?, ?, ?, ?)",
                               (session_id, now, kind, mask_pii(str(line.get("text") or ""))[:MAX_TEXT]))
            _bump(db)
            new = db.execute("SELECT * FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
        return dict(new), row is None

    def get(self, session_id: int) -> dict[str, Any] | None:
        """One session, or None."""
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
        return dict(row) if row else None

    def live_for(self, sender_id: str) -> dict[str, Any] | None:
        """The sender's waiting or active session (their messages go to staff), or None."""
        with self.db.transaction() as db:
            row = db.execute(
                f"SELECT * FROM live_sessions WHERE sender_id = ? AND status IN {LIVE} ORDER BY id DESC LIMIT 1",
                (sender_id,),
            ).fetchone()
        return dict(row) if row else None

    def queue(self) -> list[dict[str, Any]]:
        """Open sessions, oldest first, with their last citizen message and unread count for the list."""
        with self.db.transaction() as db:
            rows = db.execute(
                f"SELECT s.*, (SELECT text FROM live_messages m WHERE m.session_id = s.id"
                f" AND m.kind IN ('citizen', 'history_user') ORDER BY m.id DESC LIMIT 1) AS last_text"
                f" FROM live_sessions s WHERE s.status IN {OPEN} ORDER BY s.created_at"
            ).fetchall()
        return [dict(r) for r in rows]

    def position(self, session_id: int) -> int:
        """1 for the first citizen waiting; how many unclaimed live sessions are ahead, plus one."""
        with self.db.transaction() as db:
            row = db.execute("SELECT created_at FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                return 0
            ahead = db.execute(
                "SELECT COUNT(*) FROM live_sessions WHERE status = 'waiting' AND created_at < ? AND id != ?",
                (row[0], session_id),
            ).fetchone()[0]
        return int(ahead) + 1

    def add_message(self, session_id: int, kind: str, text: str, author: str = "") -> int:
        """Append a message (personal data masked); the first staff message sets the response time."""
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}")
        now = time.time()
        with self.db.transaction(immediate=True) as db:
            message_id = int(db.execute(
                "INSERT INTO live_messages (session_id, at, kind, author, text) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (session_id, now, kind, author, mask_pii(text)[:MAX_TEXT]),
            ).fetchone()[0])
            if kind == "staff":
                db.execute("UPDATE live_sessions SET first_reply_at = ? WHERE id = ? AND first_reply_at IS NULL",
                           (now, session_id))
            _bump(db)
        return message_id

    def messages(self, session_id: int, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
        """The session's messages after message id ``after``, oldest first."""
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT id, at, kind, author, text FROM live_messages WHERE session_id = ? AND id > ?"
                " ORDER BY id LIMIT ?", (session_id, after, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def claim(self, session_id: int, staff: str) -> dict[str, Any]:
        """Take an unclaimed session in one statement; raise ClaimConflict when someone else was first."""
        with self.db.transaction(immediate=True) as db:
            cur = db.execute(
                f"UPDATE live_sessions SET status = 'active', claimed_by = ?, claimed_at = ?"
                f" WHERE id = ? AND status IN {OPEN} AND (claimed_by = '' OR claimed_by = ?)",
                (staff, time.time(), session_id, staff),
            )
            row = db.execute("SELECT * FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
            if cur.rowcount != 1:
                raise ClaimConflict(str(row["claimed_by"]) if row and row["status"] in OPEN else "")
            _bump(db)
        return dict(row)

    def transfer(self, session_id: int, holder: str, to: str, force: bool = False) -> dict[str, Any]:
        """Hand a claimed session to another staff member (its holder, or anyone with ``force``)."""
        with self.db.transaction(immediate=True) as db:
            cur = db.execute(
                f"UPDATE live_sessions SET claimed_by = ?, claimed_at = ?, status = 'active'"
                f" WHERE id = ? AND status IN {OPEN} AND (claimed_by = ? OR ? = 1)",
                (to, time.time(), session_id, holder, int(force)),
            )
            row = db.execute("SELECT * FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
            if cur.rowcount != 1:
                raise ClaimConflict(str(row["claimed_by"]) if row and row["status"] in OPEN else "")
            _bump(db)
        return dict(row)

    def close(self, session_id: int, by: str, outcome: str) -> dict[str, Any] | None:
        """Close an open session with an outcome; None when it was already closed or is unknown."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self.db.transaction(immediate=True) as db:
            cur = db.execute(
                f"UPDATE live_sessions SET status = 'closed', closed_at = ?, closed_by = ?, outcome = ?"
                f" WHERE id = ? AND status IN {OPEN}",
                (time.time(), by, outcome, session_id),
            )
            if cur.rowcount != 1:
                return None
            _bump(db)
            row = db.execute("SELECT * FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
        return dict(row)

    def set_offline(self, session_id: int) -> bool:
        """Turn an unclaimed waiting session into an offline request (kept for staff; the bot answers again)."""
        with self.db.transaction(immediate=True) as db:
            cur = db.execute("UPDATE live_sessions SET status = 'offline' WHERE id = ? AND status = 'waiting'",
                             (session_id,))
            if cur.rowcount == 1:
                _bump(db)
        return cur.rowcount == 1

    def history(self, since: float, until: float, limit: int = 5000) -> list[dict[str, Any]]:
        """Sessions created in [since, until), newest first (review and export)."""
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT * FROM live_sessions WHERE created_at >= ? AND created_at < ? ORDER BY created_at DESC"
                " LIMIT ?", (since, until, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def stats(self, since: float) -> dict[str, Any]:
        """Hand-overs created since ``since``: per day (Vietnam dates), waits to the first staff reply, abandoned."""
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT channel, status, created_at, first_reply_at, closed_at, outcome FROM live_sessions"
                " WHERE created_at >= ? ORDER BY created_at", (since,),
            ).fetchall()
        per_day: dict[str, int] = {}
        waits: list[float] = []
        abandoned = waiting = 0
        for row in rows:
            day = time.strftime("%Y-%m-%d", time.gmtime(float(row["created_at"]) + 7 * 3600))
            per_day[day] = per_day.get(day, 0) + 1
            if row["first_reply_at"] is not None:
                waits.append(float(row["first_reply_at"]) - float(row["created_at"]))
            elif row["status"] == "closed":
                abandoned += 1  # closed before any staff member answered: the citizen gave up or went back
            if row["status"] == "waiting":
                waiting += 1
        waits.sort()
        return {
            "total": len(rows), "per_day": per_day, "abandoned": abandoned, "waiting": waiting,
            "answered": len(waits),
            "wait_median_s": waits[len(waits) // 2] if waits else None,
            "wait_mean_s": sum(waits) / len(waits) if waits else None,
            "wait_max_s": waits[-1] if waits else None,
        }

    def waiting_by_channel(self) -> dict[str, float]:
        """How many citizens wait for staff now, per channel."""
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT channel, COUNT(*) FROM live_sessions WHERE status = 'waiting' GROUP BY channel").fetchall()
        return {str(channel): float(n) for channel, n in rows}

    def purge_before(self, cutoff: float) -> int:
        """Delete closed sessions (and their messages) created before ``cutoff``; return how many."""
        with self.db.transaction(immediate=True) as db:
            db.execute(
                "DELETE FROM live_messages WHERE session_id IN"
                " (SELECT id FROM live_sessions WHERE created_at < ? AND status = 'closed')", (cutoff,),
            )
            gone = int(db.execute("DELETE FROM live_sessions WHERE created_at < ? AND status = 'closed'",
                                  (cutoff,)).rowcount)
            if gone:
                _bump(db)
        return gone
