"""Dossier subscriptions and the push outbox, in the dossier state database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from dossier.models import FINAL_STATUSES
from dossier.store import StateDB


@dataclass(frozen=True)
class Subscription:
    """A sender following one dossier."""

    sender: str
    code: str
    channel: str
    last_status: str


@dataclass(frozen=True)
class PendingPush:
    """An outbox row waiting for delivery."""

    id: int
    sender: str
    payload: dict[str, Any]
    attempts: int


class SubscriptionStore:
    """Subscriptions and the push outbox in the state database."""

    def __init__(self, db: StateDB) -> None:
        """Use ``db`` for storage."""
        self.db = db

    def subscribe(self, sender: str, channel: str, code: str, status: str) -> bool:
        """Follow ``code`` from its current ``status``; False when already subscribed."""
        with self.db.transaction(immediate=True) as conn:
            cur = conn.execute(
                "INSERT INTO subscriptions (sender, code, channel, last_status, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (sender, code, channel, status, time.time()),
            )
            return cur.rowcount > 0

    def unsubscribe(self, sender: str, code: str | None = None) -> int:
        """Stop following ``code`` (or every dossier when None); return how many were removed."""
        with self.db.transaction(immediate=True) as conn:
            if code:
                cur = conn.execute("DELETE FROM subscriptions WHERE sender = ? AND code = ?", (sender, code))
            else:
                cur = conn.execute("DELETE FROM subscriptions WHERE sender = ?", (sender,))
            return cur.rowcount

    def all(self) -> list[Subscription]:
        """Every subscription."""
        with self.db.transaction(immediate=True) as conn:
            rows = conn.execute("SELECT sender, code, channel, last_status FROM subscriptions").fetchall()
        return [Subscription(*row) for row in rows]

    def for_sender(self, sender: str) -> list[Subscription]:
        """Subscriptions of one sender."""
        with self.db.transaction(immediate=True) as conn:
            rows = conn.execute(
                "SELECT sender, code, channel, last_status FROM subscriptions WHERE sender = ?", (sender,)
            ).fetchall()
        return [Subscription(*row) for row in rows]

    def record_change(self, sub: Subscription, new_status: str, payload: dict[str, Any]) -> bool:
        """Atomically move the subscription to ``new_status`` and queue one push; False if already done."""
        with self.db.transaction(immediate=True) as conn:
            cur = conn.execute(
                "UPDATE subscriptions SET last_status = ? WHERE sender = ? AND code = ? AND last_status = ?",
                (new_status, sub.sender, sub.code, sub.last_status),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "INSERT INTO push_outbox (sender, code, status, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                (sub.sender, sub.code, new_status, json.dumps(payload, ensure_ascii=False), time.time()),
            )
            if new_status in {s.value for s in FINAL_STATUSES}:
                conn.execute("DELETE FROM subscriptions WHERE sender = ? AND code = ?", (sub.sender, sub.code))
        return True

    def pending(self, limit: int = 100) -> list[PendingPush]:
        """Undelivered pushes, oldest first."""
        with self.db.transaction(immediate=True) as conn:
            rows = conn.execute(
                "SELECT id, sender, payload, attempts FROM push_outbox "
                "WHERE delivered_at IS NULL AND failed = 0 ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [PendingPush(r["id"], r["sender"], json.loads(r["payload"]), r["attempts"]) for r in rows]

    def mark_delivered(self, push_id: int) -> None:
        """Mark a push as delivered."""
        with self.db.transaction(immediate=True) as conn:
            conn.execute("UPDATE push_outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                         (time.time(), push_id))

    def mark_failed_attempt(self, push_id: int, error: str, give_up: bool = False) -> None:
        """Count a failed attempt; ``give_up`` stops retrying it."""
        with self.db.transaction(immediate=True) as conn:
            conn.execute(
                "UPDATE push_outbox SET attempts = attempts + 1, last_error = ?, failed = ? WHERE id = ?",
                (error[:200], int(give_up), push_id),
            )
