"""Who verified which dossier (for subscriptions), and codes whose 4-digit factor is locked by failed tries."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dossier.store import Hasher, StateDB


class VerifiedPairs:
    """(sender, code) pairs that passed the second factor, kept as keyed hashes until they expire."""

    def __init__(self, db: StateDB, hasher: Hasher, ttl_s: float = 3600.0) -> None:
        """Store into ``db``; a pair stays valid ``ttl_s`` seconds after its last verification."""
        self.db = db
        self.hash = hasher
        self.ttl_s = ttl_s

    def _key(self, sender: str, code: str) -> str:
        """The keyed hash of one pair (the NUL cannot occur in a sender id or a code)."""
        return self.hash(f"{sender}\0{code}")

    def record(self, sender: str, code: str, now: float | None = None) -> None:
        """Remember that ``sender`` just verified ``code``."""
        ts = now if now is not None else time.time()
        with self.db.transaction(immediate=True) as conn:
            conn.execute("DELETE FROM verified_pairs WHERE expires_at <= ?", (ts,))
            conn.execute("INSERT INTO verified_pairs (pair_hash, expires_at) VALUES (?, ?) ON CONFLICT(pair_hash) "
                         "DO UPDATE SET expires_at = excluded.expires_at",
                         (self._key(sender, code), ts + self.ttl_s))

    def is_verified(self, sender: str, code: str, now: float | None = None) -> bool:
        """True when ``sender`` verified ``code`` within the last ``ttl_s`` seconds."""
        ts = now if now is not None else time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT expires_at FROM verified_pairs WHERE pair_hash = ?",
                               (self._key(sender, code),)).fetchone()
        return row is not None and float(row[0]) > ts


@dataclass(frozen=True)
class CodeAlert:
    """A dossier code whose 4-digit factor is locked because of failed tries."""

    code: str
    first_ts: float
    last_ts: float
    until_ts: float


class CodeAlerts:
    """Codes under attack, shown to staff while their lock lasts (then forgotten)."""

    def __init__(self, db: StateDB) -> None:
        """Store into ``db``."""
        self.db = db

    def raise_alert(self, code: str, until_ts: float, now: float | None = None) -> bool:
        """Record that ``code`` is locked until ``until_ts``; True when it was not already on the list."""
        ts = now if now is not None else time.time()
        with self.db.transaction(immediate=True) as conn:
            conn.execute("DELETE FROM code_alerts WHERE until_ts <= ?", (ts,))
            cur = conn.execute(
                "INSERT INTO code_alerts (code, first_ts, last_ts, until_ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(code) DO UPDATE SET last_ts = excluded.last_ts, until_ts = excluded.until_ts "
                "RETURNING first_ts", (code, ts, ts, until_ts))
            first = float(cur.fetchone()[0])
        return first == ts

    def active(self, now: float | None = None, limit: int = 50) -> list[CodeAlert]:
        """Codes still locked, most recent attack first."""
        ts = now if now is not None else time.time()
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT code, first_ts, last_ts, until_ts FROM code_alerts WHERE until_ts > ? "
                "ORDER BY last_ts DESC LIMIT ?", (ts, limit)).fetchall()
        return [CodeAlert(str(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows]


def active_alerts(state_db: Path, now: float | None = None) -> list[CodeAlert]:
    """Codes under attack recorded in the dossier state database (none while its SQLite file does not exist)."""
    db = StateDB(state_db)
    if db.dialect == "sqlite" and not state_db.exists():
        return []
    return CodeAlerts(db).active(now)
