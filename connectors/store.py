"""The gateway's durable state in one SQLite file: seen ids, callback ids, outbox, web inbox, tokens.

All SQLite work runs on one dedicated thread, off the event loop, in order.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
PUSH_KEY = "push"  # set on outbox payloads of proactive messages (status pushes, staff replies)

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    channel TEXT NOT NULL, msg_id TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (channel, msg_id)
);
CREATE INDEX IF NOT EXISTS seen_at ON seen(at);
CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY, payload TEXT NOT NULL, title TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL, recipient TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, created REAL NOT NULL, last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, channel, recipient, id);
CREATE TABLE IF NOT EXISTS web_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, payload TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS web_inbox_sender ON web_inbox(sender, id);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY, access_token TEXT NOT NULL, refresh_token TEXT NOT NULL,
    expires_at REAL NOT NULL, updated_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxItem:
    """One queued API call to a channel."""

    id: int
    channel: str
    recipient: str
    payload: dict[str, Any]
    attempts: int
    created: float


@dataclass(frozen=True)
class TokenPair:
    """An OAuth access/refresh token pair and the access token's expiry (epoch seconds)."""

    access_token: str
    refresh_token: str
    expires_at: float


def callback_id(payload: str) -> str:
    """Return a short, stable id for a button payload (well under Telegram's 64 bytes)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:12]
    return "b" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class Store:
    """Async facade over the gateway's SQLite file."""

    def __init__(self, path: Path) -> None:
        """Remember the path; ``open`` creates the file and schema."""
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")

    def _open(self) -> None:
        """Create the file and schema (runs on the DB thread)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise RuntimeError("store not opened")
        return self._conn

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the DB thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def open(self) -> None:
        """Open the database."""
        await self._run(self._open)

    async def close(self) -> None:
        """Close the database and its thread."""
        if self._conn is not None:
            await self._run(self.conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    # --- de-duplication ------------------------------------------------------------------------
    async def mark_seen(self, channel: str, msg_id: str) -> bool:
        """Record a delivery id; True when it is new, False for a duplicate."""

        def op() -> bool:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO seen(channel, msg_id, at) VALUES (?, ?, ?)",
                (channel, msg_id, time.time()),
            )
            return cur.rowcount == 1

        return await self._run(op)

    async def prune_seen(self, older_than_s: float) -> int:
        """Forget delivery ids older than ``older_than_s`` seconds."""

        def op() -> int:
            cur = self.conn.execute("DELETE FROM seen WHERE at < ?", (time.time() - older_than_s,))
            return cur.rowcount

        return await self._run(op)

    # --- button callback ids -------------------------------------------------------------------
    async def put_callback(self, payload: str, title: str) -> str:
        """Store a button payload and return its short id."""
        cid = callback_id(payload)

        def op() -> None:
            self.conn.execute(
                "INSERT INTO callbacks(id, payload, title, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                (cid, payload, title, time.time()),
            )

        await self._run(op)
        return cid

    async def get_callback(self, cid: str) -> tuple[str, str] | None:
        """Return ``(payload, title)`` for a short id, or None."""

        def op() -> tuple[str, str] | None:
            row = self.conn.execute("SELECT payload, title FROM callbacks WHERE id = ?", (cid,)).fetchone()
            return (row[0], row[1]) if row else None

        return await self._run(op)

    # --- outbox --------------------------------------------------------------------------------
    async def enqueue(self, channel: str, recipient: str, payloads: list[dict[str, Any]]) -> list[int]:
        """Queue API calls for one recipient, in order, in one transaction."""
        now = time.time()

        def op() -> list[int]:
            ids = []
            with self.conn:
                self.conn.execute("BEGIN")
                for p in payloads:
                    cur = self.conn.execute(
                        "INSERT INTO outbox(channel, recipient, payload, next_at, created) "
                        "VALUES (?,?,?,?,?)",
                        (channel, recipient, json.dumps(p, ensure_ascii=False), now, now),
                    )
                    ids.append(int(cur.lastrowid or 0))
            return ids

        return await self._run(op)

    async def due(self, channels: list[str], limit: int = 50) -> tuple[list[OutboxItem], float | None]:
        """Return the oldest pending item of each recipient that is due now, and the next due time."""
        now = time.time()
        marks = ",".join("?" for _ in channels) or "''"

        def op() -> tuple[list[OutboxItem], float | None]:
            rows = self.conn.execute(
                f"SELECT o.id, o.channel, o.recipient, o.payload, o.attempts, o.created, o.next_at "
                f"FROM outbox o JOIN (SELECT MIN(id) AS id FROM outbox WHERE status = 'pending' "
                f"AND channel IN ({marks}) GROUP BY channel, recipient) h ON o.id = h.id "
                f"ORDER BY o.next_at, o.id",
                channels,
            ).fetchall()
            items: list[OutboxItem] = []
            next_at: float | None = None
            for rid, ch, rcpt, payload, attempts, created, at in rows:
                if at <= now and len(items) < limit:
                    items.append(OutboxItem(rid, ch, rcpt, json.loads(payload), attempts, created))
                elif at > now:
                    next_at = at if next_at is None else min(next_at, at)
            return items, next_at

        return await self._run(op)

    async def release_held(
        self, channel: str, recipient: str, stale_before: float, mark: Callable[[dict[str, Any], float], dict[str, Any]]
    ) -> tuple[int, int]:
        """Make a recipient's pending items due now; drop stale replies, ``mark`` stale pushes.

        Returns (released, dropped).
        """
        now = time.time()

        def op() -> tuple[int, int]:
            released = dropped = 0
            with self.conn:
                self.conn.execute("BEGIN")
                rows = self.conn.execute(
                    "SELECT id, payload, created FROM outbox WHERE status = 'pending' AND channel = ? "
                    "AND recipient = ? ORDER BY id",
                    (channel, recipient),
                ).fetchall()
                for rid, raw, created in rows:
                    payload = json.loads(raw)
                    if created >= stale_before:
                        self.conn.execute("UPDATE outbox SET next_at = MIN(next_at, ?) WHERE id = ?", (now, rid))
                    elif payload.get(PUSH_KEY):
                        marked = json.dumps(mark(payload, created), ensure_ascii=False)
                        self.conn.execute("UPDATE outbox SET next_at = ?, payload = ? WHERE id = ?", (now, marked, rid))
                    else:
                        self.conn.execute(
                            "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?",
                            ("superseded: the user wrote again", rid),
                        )
                        dropped += 1
                        continue
                    released += 1
            return released, dropped

        return await self._run(op)

    async def done(self, item_id: int) -> None:
        """Remove a delivered item."""
        await self._run(lambda: self.conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,)))

    async def retry_later(self, item_id: int, delay_s: float, error: str, count: bool = True) -> None:
        """Reschedule an item after a failure."""
        at = time.time() + delay_s
        inc = 1 if count else 0
        await self._run(
            lambda: self.conn.execute(
                "UPDATE outbox SET attempts = attempts + ?, next_at = ?, last_error = ? WHERE id = ?",
                (inc, at, error[:500], item_id),
            )
        )

    async def dead(self, item_id: int, error: str) -> None:
        """Give up on an item, keeping it for inspection."""
        await self._run(
            lambda: self.conn.execute(
                "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (error[:500], item_id)
            )
        )

    async def pending_counts(self) -> dict[str, float]:
        """Pending outbox items per channel."""

        def op() -> dict[str, float]:
            rows = self.conn.execute(
                "SELECT channel, COUNT(*) FROM outbox WHERE status = 'pending' GROUP BY channel"
            ).fetchall()
            return {ch: float(n) for ch, n in rows}

        return await self._run(op)

    # --- web chat inbox (pushes waiting for the page to poll) ----------------------------------
    async def push_web(self, sender: str, messages: list[dict[str, Any]]) -> None:
        """Store messages for a web chat sender."""
        now = time.time()

        def op() -> None:
            with self.conn:
                self.conn.execute("BEGIN")
                for m in messages:
                    self.conn.execute(
                        "INSERT INTO web_inbox(sender, payload, at) VALUES (?, ?, ?)",
                        (sender, json.dumps(m, ensure_ascii=False), now),
                    )

        await self._run(op)

    async def pop_web(self, sender: str, limit: int = 50) -> list[dict[str, Any]]:
        """Take the waiting messages of a web chat sender, oldest first."""

        def op() -> list[dict[str, Any]]:
            with self.conn:
                self.conn.execute("BEGIN")
                rows = self.conn.execute(
                    "SELECT id, payload FROM web_inbox WHERE sender = ? ORDER BY id LIMIT ?", (sender, limit)
                ).fetchall()
                if rows:
                    self.conn.execute(
                        "DELETE FROM web_inbox WHERE sender = ? AND id <= ?", (sender, rows[-1][0])
                    )
            return [json.loads(p) for _, p in rows]

        return await self._run(op)

    # --- OAuth tokens --------------------------------------------------------------------------
    async def get_tokens(self, name: str) -> TokenPair | None:
        """Return the stored token pair called ``name``."""

        def op() -> TokenPair | None:
            row = self.conn.execute(
                "SELECT access_token, refresh_token, expires_at FROM tokens WHERE name = ?", (name,)
            ).fetchone()
            return TokenPair(row[0], row[1], row[2]) if row else None

        return await self._run(op)

    async def save_tokens(self, name: str, pair: TokenPair) -> None:
        """Persist a token pair atomically (one SQLite transaction, durable before use)."""

        def op() -> None:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute(
                    "INSERT INTO tokens(name, access_token, refresh_token, expires_at, updated_at) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET access_token = excluded.access_token,"
                    " refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,"
                    " updated_at = excluded.updated_at",
                    (name, pair.access_token, pair.refresh_token, pair.expires_at, time.time()),
                )

        await self._run(op)
