"""The durable inbox's rows: accepted webhook events, claimed with a lease until their reply is queued."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from connectors.store_base import StoreBase

RATE_WINDOW_S = 60  # the per-minute flood limit's window, counted in the shared database


@dataclass(frozen=True)
class Limits:
    """Per-sender flood limits the inbox applies as it accepts (shared by every replica)."""

    per_minute: int
    max_queued: int


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
    recent: int = 0  # the sender's admitted arrivals in the last minute before this one (all replicas)
    refused: str = ""  # ``rate`` or ``queue``: over the flood limits, not stored (only its ``seen`` row is)

    @property
    def key(self) -> str:
        """The id Rasa sees in the message's metadata, to recognise a message it answered already."""
        return f"{self.channel}:{self.msg_id}"


INBOX_ITEM: ContextVar[InboxItem | None] = ContextVar("inbox_item", default=None)
"""The inbox item whose event the current task handles: its first queued reply marks it done."""


class InboxStore(StoreBase):
    """The inbox's queries over the gateway's database."""

    async def accept(self, channel: str, msg_id: str, sender: str, event: dict[str, Any],
                     limits: Limits | None = None) -> InboxItem | None:
        """Record a delivery id and store its event in one transaction; None for a duplicate.

        Over ``limits`` (arrivals of the last minute, or items waiting) the event is not stored: the item
        comes back with ``refused`` set. Deciding in the transaction keeps the limits exact across replicas.

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
            recent = _arrivals(conn, channel, sender, now)
            ahead = int(conn.execute(
                "SELECT COUNT(*) FROM inbox WHERE channel = ? AND sender = ?", (channel, sender)
            ).fetchone()[0])
            refused = "" if limits is None else (
                "queue" if ahead >= limits.max_queued else "rate" if recent >= limits.per_minute else "")
            if refused:
                return InboxItem(0, channel, sender, msg_id, event, 0, False, ahead, recent=recent, refused=refused,
                                 finished=True)
            _count_arrival(conn, channel, sender, now)
            claimed = ahead == 0
            rid = conn.execute(
                "INSERT INTO inbox(channel, sender, msg_id, event, created, attempts, claimed_by, claimed_until) "
                "VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (channel, sender, msg_id, raw, now, 1 if claimed else 0, self.owner if claimed else "",
                 now + self.lease_s if claimed else 0.0),
            ).fetchone()[0]
            return InboxItem(int(rid), channel, sender, msg_id, event, 0, claimed, ahead, recent=recent)

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

    async def count_arrival(self, channel: str, sender: str, per_minute: int) -> bool:
        """Count one arrival of a sender that does not go through the inbox; False (not counted) over the limit."""

        def op(conn: sqlite3.Connection) -> bool:
            now = time.time()
            if _arrivals(conn, channel, sender, now) >= per_minute:
                return False
            _count_arrival(conn, channel, sender, now)
            return True

        return await self._run(self._tx(op, immediate=True))

    async def prune_arrivals(self) -> int:
        """Forget arrival counts of windows that no longer matter."""
        old = int(time.time() // RATE_WINDOW_S) - 2
        return await self._run(self._tx(lambda c: int(c.execute("DELETE FROM arrivals WHERE win < ?",
                                                                 (old,)).rowcount)))

    async def inbox_count(self) -> int:
        """Accepted events not handled yet (all replicas)."""
        return await self._run(self._tx(lambda c: int(c.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])))


def _arrivals(conn: sqlite3.Connection, channel: str, sender: str, now: float) -> int:
    """The sender's admitted arrivals in the minute before ``now`` (sliding-window estimate).

    The previous window's count is weighed by how much of it the last minute still covers, rounded up.
    """
    win = math.floor(now / RATE_WINDOW_S)
    rows = {int(r[0]): int(r[1]) for r in conn.execute(
        "SELECT win, n FROM arrivals WHERE channel = ? AND sender = ? AND win IN (?, ?)",
        (channel, sender, win - 1, win),
    ).fetchall()}
    elapsed = now / RATE_WINDOW_S - win
    return rows.get(win, 0) + math.ceil(rows.get(win - 1, 0) * (1.0 - elapsed) - 1e-9)


def _count_arrival(conn: sqlite3.Connection, channel: str, sender: str, now: float) -> None:
    """Add one admitted arrival to the sender's count for the current window."""
    conn.execute(
        "INSERT INTO arrivals(channel, sender, win, n) VALUES (?, ?, ?, 1) "
        "ON CONFLICT(channel, sender, win) DO UPDATE SET n = arrivals.n + 1",
        (channel, sender, math.floor(now / RATE_WINDOW_S)),
    )
