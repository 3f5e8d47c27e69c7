"""The gateway's durable state: seen ids, the inbox, callback ids, outbox, web inbox, tokens.

One SQLite file by default; with ``STATE_DB_URL`` the schema ``gateway`` on PostgreSQL, shared by every
gateway replica: a webhook retried to another replica is still a duplicate, and inbox and outbox items
are claimed by one replica for a lease (``CLUSTER_LEASE_S``), so two replicas never handle one both and
a replica that dies leaves its items to the others when the lease runs out. All database work runs on
one dedicated thread, off the event loop, in order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.store_inbox import INBOX_ITEM, InboxItem, InboxStore, Limits

__all__ = ["INBOX_ITEM", "PUSH_KEY", "InboxItem", "Limits", "OutboxItem", "Store", "TokenPair", "callback_id"]

PUSH_KEY = "push"  # set on outbox payloads of proactive messages (status pushes, staff replies)


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


class Store(InboxStore):
    """Async facade over the gateway's database."""

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

    async def put_callbacks(self, buttons: list[tuple[str, str]]) -> list[str]:
        """Store the ``(payload, title)`` of several buttons in one transaction; their short ids, in order."""
        now = time.time()
        rows = [(callback_id(payload), payload, title, now) for payload, title in buttons]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO callbacks(id, payload, title, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                rows,
            )

        if rows:
            await self._run(self._tx(op))
        return [row[0] for row in rows]

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
