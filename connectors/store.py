"""The gateway's durable state: seen ids, the inbox, callback ids, outbox, web inbox, tokens.

One SQLite file by default; with ``STATE_DB_URL`` the schema ``gateway`` on PostgreSQL, shared by every
gateway replica: a webhook retried to another replica is still a duplicate, and inbox and outbox items
are claimed by one replica for a lease (``CLUSTER_LEASE_S``), so two replicas never handle one both and
a replica that dies leaves its items to the others when the lease runs out. All database work runs on
one dedicated thread, off the event loop, in order.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from common.db import SqliteDB

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
    next_at REAL NOT NULL, created REAL NOT NULL, last_error TEXT NOT NULL DEFAULT '',
    claimed_by TEXT NOT NULL DEFAULT '', claimed_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, channel, recipient, id);
CREATE TABLE IF NOT EXISTS web_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, payload TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS web_inbox_sender ON web_inbox(sender, id);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL, sender TEXT NOT NULL, msg_id TEXT NOT NULL, event TEXT NOT NULL,
    created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT NOT NULL DEFAULT '', claimed_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS inbox_sender ON inbox(channel, sender, id);
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


@dataclass
class InboxItem:
    """One accepted webhook event waiting for (or claimed for) its turn with Rasa."""

    id: int
    channel: str
    sender: str  # the user within the channel: one sender's items are handled one at a time, in order
    msg_id: str
    event: dict[str, Any]
    attempts: int  # how many times it was claimed before this claim (more than 0: a replica died with it)
    claimed: bool  # claimed by this replica now (False: it waits behind the sender's earlier items)
    ahead: int = 0  # the sender's earlier items still in the inbox when this one was accepted
    held_until: float = 0.0  # when the previous claim ran out (taken over: its replica was dead by then)
    finished: bool = False  # set once its reply is queued (the row went in the same transaction)

    @property
    def key(self) -> str:
        """The id Rasa sees in the message's metadata, to recognise a message it answered already."""
        return f"{self.channel}:{self.msg_id}"


INBOX_ITEM: ContextVar[InboxItem | None] = ContextVar("inbox_item", default=None)
"""The inbox item whose event the current task handles: its first queued reply marks it done."""


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


def _add_claim_columns(conn: sqlite3.Connection) -> None:
    """Add the claim columns that outboxes created before replicas could share one lack."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
    if "claimed_by" not in columns:
        conn.execute("ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT ''")
    if "claimed_until" not in columns:
        conn.execute("ALTER TABLE outbox ADD COLUMN claimed_until REAL NOT NULL DEFAULT 0")


def replica_id() -> str:
    """The name of this process in outbox claims: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class Store:
    """Async facade over the gateway's database."""

    def __init__(self, path: Path, lease_s: float = 30.0, url: str | None = None) -> None:
        """Remember where the data lives (``url`` overrides ``STATE_DB_URL``); ``open`` creates the schema."""
        self.path = path
        self.db = SqliteDB(path, SCHEMA, _add_claim_columns, namespace="gateway", url=url, durable=True)
        self.lease_s = lease_s
        self.owner = replica_id()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the DB thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _tx(self, fn: Callable[[sqlite3.Connection], T], immediate: bool = False) -> Callable[[], T]:
        """``fn`` inside one transaction, as a job for the DB thread."""

        def job() -> T:
            with self.db.transaction(immediate=immediate) as conn:
                return fn(conn)

        return job

    async def open(self) -> None:
        """Create the file and schema (SQLite) or check the migrated schema (PostgreSQL)."""
        await self._run(self._tx(lambda conn: None))

    async def close(self) -> None:
        """Stop the database thread."""
        self._executor.shutdown(wait=True)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold a lock every gateway replica respects while the block runs (e.g. one token refresh at a time)."""
        handle = await asyncio.to_thread(self.db.acquire, name)
        try:
            yield
        finally:
            await asyncio.to_thread(self.db.release, handle)

    # --- de-duplication ------------------------------------------------------------------------
    async def mark_seen(self, channel: str, msg_id: str) -> bool:
        """Record a delivery id; True when it is new, False for a duplicate (across replicas)."""

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT INTO seen(channel, msg_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (channel, msg_id, time.time()),
            )
            return cur.rowcount == 1

        return await self._run(self._tx(op))

    async def prune_seen(self, older_than_s: float) -> int:
        """Forget delivery ids older than ``older_than_s`` seconds."""
        cutoff = time.time() - older_than_s
        return await self._run(self._tx(lambda c: int(c.execute("DELETE FROM seen WHERE at < ?", (cutoff,)).rowcount)))

    # --- durable inbox -------------------------------------------------------------------------
    async def accept(self, channel: str, msg_id: str, sender: str, event: dict[str, Any]) -> InboxItem | None:
        """Record a delivery id and store its event in one transaction; None for a duplicate.

        The item comes back claimed by this replica when the sender has no earlier item waiting;
        otherwise it waits for ``claim_inbox`` behind those, so a sender's events keep their order.
        """
        raw = json.dumps(event, ensure_ascii=False)

        def op(conn: sqlite3.Connection) -> InboxItem | None:
            now = time.time()
            cur = conn.execute(
                "INSERT INTO seen(channel, msg_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (channel, msg_id, now)
            )
            if cur.rowcount != 1:
                return None
            ahead = int(conn.execute(
                "SELECT COUNT(*) FROM inbox WHERE channel = ? AND sender = ?", (channel, sender)
            ).fetchone()[0])
            claimed = ahead == 0
            rid = conn.execute(
                "INSERT INTO inbox(channel, sender, msg_id, event, created, attempts, claimed_by, claimed_until) "
                "VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (channel, sender, msg_id, raw, now, 1 if claimed else 0, self.owner if claimed else "",
                 now + self.lease_s if claimed else 0.0),
            ).fetchone()[0]
            return InboxItem(int(rid), channel, sender, msg_id, event, 0, claimed, ahead)

        return await self._run(self._tx(op, immediate=True))

    async def claim_inbox(self, channels: list[str], limit: int = 50) -> tuple[list[InboxItem], float | None]:
        """Claim the oldest item of each sender that no live claim holds; return them and the next expiry."""
        marks = ",".join("?" for _ in channels) or "''"

        def op(conn: sqlite3.Connection) -> tuple[list[InboxItem], float | None]:
            now = time.time()
            rows = conn.execute(
                f"SELECT i.id, i.channel, i.sender, i.msg_id, i.event, i.attempts, i.claimed_until "
                f"FROM inbox i JOIN (SELECT MIN(id) AS id FROM inbox WHERE channel IN ({marks}) "
                f"GROUP BY channel, sender) h ON i.id = h.id ORDER BY i.id",
                channels,
            ).fetchall()
            items: list[InboxItem] = []
            next_at: float | None = None
            for rid, ch, sender, msg_id, raw, attempts, claimed_until in rows:
                if claimed_until <= now and len(items) < limit:
                    items.append(InboxItem(rid, ch, sender, msg_id, json.loads(raw), attempts, True,
                                           held_until=claimed_until))
                elif claimed_until > now:
                    next_at = claimed_until if next_at is None else min(next_at, claimed_until)
            conn.executemany(
                "UPDATE inbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(self.owner, now + self.lease_s, item.id) for item in items],
            )
            return items, next_at

        return await self._run(self._tx(op, immediate=True))

    async def renew_inbox(self, ids: list[int]) -> None:
        """Extend this replica's claims on items still under way by another lease."""
        if not ids:
            return
        marks = ",".join("?" for _ in ids)
        until = time.time() + self.lease_s
        await self._run(self._tx(lambda c: c.execute(
            f"UPDATE inbox SET claimed_until = ? WHERE claimed_by = ? AND id IN ({marks})", (until, self.owner, *ids)
        )))

    async def inbox_done(self, item: InboxItem) -> None:
        """Remove an item this replica holds (nothing to do when its reply already removed it)."""
        if item.finished:
            return
        item.finished = True
        await self._run(self._tx(lambda c: c.execute(
            "DELETE FROM inbox WHERE id = ? AND claimed_by IN (?, '')", (item.id, self.owner)
        )))

    async def inbox_count(self) -> int:
        """Accepted events not handled yet (all replicas)."""
        return await self._run(self._tx(lambda c: int(c.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])))

    # --- button callback ids -------------------------------------------------------------------
    async def put_callback(self, payload: str, title: str) -> str:
        """Store a button payload and return its short id."""
        cid = callback_id(payload)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO callbacks(id, payload, title, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                (cid, payload, title, time.time()),
            )

        await self._run(self._tx(op))
        return cid

    async def get_callback(self, cid: str) -> tuple[str, str] | None:
        """Return ``(payload, title)`` for a short id, or None."""

        def op(conn: sqlite3.Connection) -> tuple[str, str] | None:
            row = conn.execute("SELECT payload, title FROM callbacks WHERE id = ?", (cid,)).fetchone()
            return (row[0], row[1]) if row else None

        return await self._run(self._tx(op))

    # --- outbox --------------------------------------------------------------------------------
    async def enqueue(self, channel: str, recipient: str, payloads: list[dict[str, Any]]) -> list[int]:
        """Queue API calls for one recipient, in order, in one transaction.

        Called while an inbox item is handled (``INBOX_ITEM``), the same transaction removes that item:
        its reply is queued exactly when the event stops waiting.
        """
        now = time.time()
        item = INBOX_ITEM.get()
        done = item if item is not None and not item.finished else None

        def op(conn: sqlite3.Connection) -> list[int]:
            if done is not None:
                conn.execute("DELETE FROM inbox WHERE id = ? AND claimed_by = ?", (done.id, self.owner))
            return [
                int(conn.execute(
                    "INSERT INTO outbox(channel, recipient, payload, next_at, created) VALUES (?,?,?,?,?) RETURNING id",
                    (channel, recipient, json.dumps(p, ensure_ascii=False), now, now),
                ).fetchone()[0])
                for p in payloads
            ]

        ids = await self._run(self._tx(op))
        if done is not None:
            done.finished = True
        return ids

    async def due(self, channels: list[str], limit: int = 50) -> tuple[list[OutboxItem], float | None]:
        """Claim the oldest pending item of each recipient that is due now; return them and the next due time.

        A recipient whose oldest item another replica holds (claim not expired) is skipped, so one
        recipient's items still go out one at a time, in order.
        """
        marks = ",".join("?" for _ in channels) or "''"

        def op(conn: sqlite3.Connection) -> tuple[list[OutboxItem], float | None]:
            now = time.time()
            rows = conn.execute(
                f"SELECT o.id, o.channel, o.recipient, o.payload, o.attempts, o.created, o.next_at, o.claimed_until "
                f"FROM outbox o JOIN (SELECT MIN(id) AS id FROM outbox WHERE status = 'pending' "
                f"AND channel IN ({marks}) GROUP BY channel, recipient) h ON o.id = h.id "
                f"ORDER BY o.next_at, o.id",
                channels,
            ).fetchall()
            items: list[OutboxItem] = []
            next_at: float | None = None
            for rid, ch, rcpt, payload, attempts, created, at, claimed_until in rows:
                ready = max(at, claimed_until)
                if ready <= now and len(items) < limit:
                    items.append(OutboxItem(rid, ch, rcpt, json.loads(payload), attempts, created))
                elif ready > now:
                    next_at = ready if next_at is None else min(next_at, ready)
            conn.executemany("UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                             [(self.owner, now + self.lease_s, item.id) for item in items])
            return items, next_at

        return await self._run(self._tx(op, immediate=True))

    async def release_held(
        self, channel: str, recipient: str, stale_before: float, mark: Callable[[dict[str, Any], float], dict[str, Any]]
    ) -> tuple[int, int]:
        """Make a recipient's pending items due now; drop stale replies, ``mark`` stale pushes.

        Returns (released, dropped).
        """
        now = time.time()

        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            released = dropped = 0
            rows = conn.execute(
                "SELECT id, payload, created FROM outbox WHERE status = 'pending' AND channel = ? "
                "AND recipient = ? ORDER BY id",
                (channel, recipient),
            ).fetchall()
            for rid, raw, created in rows:
                payload = json.loads(raw)
                if created >= stale_before:
                    conn.execute("UPDATE outbox SET next_at = ? WHERE id = ? AND next_at > ?", (now, rid, now))
                elif payload.get(PUSH_KEY):
                    marked = json.dumps(mark(payload, created), ensure_ascii=False)
                    conn.execute("UPDATE outbox SET next_at = ?, payload = ? WHERE id = ?", (now, marked, rid))
                else:
                    conn.execute(
                        "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?",
                        ("superseded: the user wrote again", rid),
                    )
                    dropped += 1
                    continue
                released += 1
            return released, dropped

        return await self._run(self._tx(op, immediate=True))

    async def done(self, item_id: int) -> None:
        """Remove a delivered item."""
        await self._run(self._tx(lambda c: c.execute("DELETE FROM outbox WHERE id = ?", (item_id,))))

    async def retry_later(self, item_id: int, delay_s: float, error: str, count: bool = True) -> None:
        """Reschedule an item after a failure (and give up this replica's claim on it)."""
        at = time.time() + delay_s
        inc = 1 if count else 0
        await self._run(self._tx(lambda c: c.execute(
            "UPDATE outbox SET attempts = attempts + ?, next_at = ?, last_error = ?, claimed_by = '', "
            "claimed_until = 0 WHERE id = ?",
            (inc, at, error[:500], item_id),
        )))

    async def dead(self, item_id: int, error: str) -> None:
        """Give up on an item, keeping it for inspection."""
        await self._run(self._tx(lambda c: c.execute(
            "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (error[:500], item_id)
        )))

    async def pending_counts(self) -> dict[str, float]:
        """Pending outbox items per channel."""

        def op(conn: sqlite3.Connection) -> dict[str, float]:
            rows = conn.execute(
                "SELECT channel, COUNT(*) FROM outbox WHERE status = 'pending' GROUP BY channel"
            ).fetchall()
            return {ch: float(n) for ch, n in rows}

        return await self._run(self._tx(op))

    # --- web chat inbox (pushes waiting for the page to poll) ----------------------------------
    async def push_web(self, sender: str, messages: list[dict[str, Any]]) -> None:
        """Store messages for a web chat sender."""
        now = time.time()

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO web_inbox(sender, payload, at) VALUES (?, ?, ?)",
                [(sender, json.dumps(m, ensure_ascii=False), now) for m in messages],
            )

        await self._run(self._tx(op))

    async def pop_web(self, sender: str, limit: int = 50) -> list[dict[str, Any]]:
        """Take the waiting messages of a web chat sender, oldest first."""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT id, payload FROM web_inbox WHERE sender = ? ORDER BY id LIMIT ?", (sender, limit)
            ).fetchall()
            if rows:
                conn.execute("DELETE FROM web_inbox WHERE sender = ? AND id <= ?", (sender, rows[-1][0]))
            return [json.loads(p) for _, p in rows]

        return await self._run(self._tx(op, immediate=True))

    # --- OAuth tokens --------------------------------------------------------------------------
    async def get_tokens(self, name: str) -> TokenPair | None:
        """Return the stored token pair called ``name``."""

        def op(conn: sqlite3.Connection) -> TokenPair | None:
            row = conn.execute(
                "SELECT access_token, refresh_token, expires_at FROM tokens WHERE name = ?", (name,)
            ).fetchone()
            return TokenPair(row[0], row[1], row[2]) if row else None

        return await self._run(self._tx(op))

    async def save_tokens(self, name: str, pair: TokenPair) -> None:
        """Persist a token pair atomically (one transaction, durable before use)."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO tokens(name, access_token, refresh_token, expires_at, updated_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET access_token = excluded.access_token,"
                " refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,"
                " updated_at = excluded.updated_at",
                (name, pair.access_token, pair.refresh_token, pair.expires_at, time.time()),
            )

        await self._run(self._tx(op, immediate=True))
