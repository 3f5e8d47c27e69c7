"""Audit log of dossier lookups: time, channel, sender hash, code hash, outcome — no personal data."""

from __future__ import annotations

import time
from dataclasses import dataclass

from dossier.store import Hasher, StateDB

# ok_full: verified with the whole phone/CCCD number while the 4-digit factor was locked for the code;
# code_locked: the code just got locked by failed tries (staff see it on the admin dashboard);
# subscribe_refused: a subscription for a code this sender had not verified.
OUTCOMES = frozenset({"ok", "ok_full", "not_found", "wrong_digits", "locked", "code_locked", "unavailable",
                      "invalid", "subscribe_refused"})


@dataclass(frozen=True)
class AuditEntry:
    """One audited lookup."""

    ts: float
    channel: str
    sender_hash: str
    code_hash: str
    outcome: str


class AuditLog:
    """Append-only lookup audit in the state database."""

    def __init__(self, db: StateDB, hasher: Hasher) -> None:
        """Store into ``db``, hashing identifiers with ``hasher``."""
        self.db = db
        self.hash = hasher

    def record(self, channel: str, sender: str, code: str, outcome: str, ts: float | None = None) -> None:
        """Record one lookup outcome (identifiers are stored hashed only)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        with self.db.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT INTO audit (ts, channel, sender_hash, code_hash, outcome) VALUES (?, ?, ?, ?, ?)",
                (ts if ts is not None else time.time(), channel[:32], self.hash(sender), self.hash(code), outcome),
            )

    def entries(self, limit: int = 1000) -> list[AuditEntry]:
        """Most recent entries, newest first."""
        with self.db.transaction(immediate=True) as conn:
            rows = conn.execute(
                "SELECT ts, channel, sender_hash, code_hash, outcome FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AuditEntry(*row) for row in rows]
