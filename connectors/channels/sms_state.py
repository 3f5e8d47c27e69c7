"""The SMS channel's own state: numbers behind sender hashes, options, held-back text, daily counts, DLRs.

The phone number is stored once, in ``numbers``, keyed by its hash; everything else (outbox, logs,
Rasa sender ids) sees only the hash.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from common.db import SqliteDB

T = TypeVar("T")
SCHEMA = """
CREATE TABLE IF NOT EXISTS numbers (hash TEXT PRIMARY KEY, number TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS options (hash TEXT PRIMARY KEY, payloads TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS more (hash TEXT PRIMARY KEY, text TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS daily (
    hash TEXT NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (hash, day, kind)
);
CREATE TABLE IF NOT EXISTS recent (hash TEXT NOT NULL, digest TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (hash, digest));
CREATE TABLE IF NOT EXISTS dlr (
    ref TEXT PRIMARY KEY, hash TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0, answer TEXT NOT NULL DEFAULT '',
    sent_at REAL NOT NULL, updated_at REAL NOT NULL
);
"""
FINAL_DLR = "(1, 2, 16)"  # Kannel's delivered, failed, rejected by the SMSC
OPTIONS_TTL_S = 86400.0
MORE_TTL_S = 86400.0


def today() -> str:
    """The current day (server local time), the unit of the daily limits."""
    return time.strftime("%Y-%m-%d")


class SmsState:
    """Async facade over ``sms.sqlite3`` (each call one short transaction off the event loop)."""

    def __init__(self, path: Path) -> None:
        """Remember the file; it is created on first use."""
        self.db = SqliteDB(path, SCHEMA, namespace="sms")

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run blocking SQLite work in a thread."""
        return await asyncio.to_thread(fn)

    async def remember_number(self, number_hash: str, number: str) -> None:
        """Keep the number a hash stands for (needed to send replies and notifications)."""
        def op() -> None:
            with self.db.transaction() as c:
                c.execute("INSERT INTO numbers VALUES (?, ?, ?) ON CONFLICT(hash) DO UPDATE SET "
                          "number = excluded.number, at = excluded.at", (number_hash, number, time.time()))
        await self._run(op)

    async def number(self, number_hash: str) -> str | None:
        """The number behind a hash, if it ever texted us."""
        def op() -> str | None:
            with self.db.transaction() as c:
                row = c.execute("SELECT number FROM numbers WHERE hash=?", (number_hash,)).fetchone()
            return str(row[0]) if row else None
        return await self._run(op)

    async def set_options(self, number_hash: str, payloads: list[str]) -> None:
        """The payloads behind '1', '2', ... of the last numbered reply (none: forget them)."""
        def op() -> None:
            with self.db.transaction() as c:
                if payloads:
                    c.execute("INSERT INTO options VALUES (?, ?, ?) ON CONFLICT(hash) DO UPDATE SET "
                              "payloads = excluded.payloads, at = excluded.at",
                              (number_hash, json.dumps(payloads), time.time()))
                else:
                    c.execute("DELETE FROM options WHERE hash=?", (number_hash,))
        await self._run(op)

    async def option(self, number_hash: str, index: int) -> str | None:
        """The payload of option ``index`` (1-based) of the last numbered reply, if still fresh."""
        def op() -> str | None:
            with self.db.transaction() as c:
                row = c.execute("SELECT payloads, at FROM options WHERE hash=?", (number_hash,)).fetchone()
            if row is None or time.time() - row[1] > OPTIONS_TTL_S:
                return None
            payloads = json.loads(row[0])
            return str(payloads[index - 1]) if 1 <= index <= len(payloads) else None
        return await self._run(op)

    async def set_more(self, number_hash: str, text: str) -> None:
        """Text held back for 'XEM THEM' (empty: nothing held)."""
        def op() -> None:
            with self.db.transaction() as c:
                if text:
                    c.execute("INSERT INTO more VALUES (?, ?, ?) ON CONFLICT(hash) DO UPDATE SET text = excluded.text,"
                              " at = excluded.at", (number_hash, text, time.time()))
                else:
                    c.execute("DELETE FROM more WHERE hash=?", (number_hash,))
        await self._run(op)

    async def pop_more(self, number_hash: str) -> str:
        """Take the held-back text ('' when none or too old)."""
        def op() -> str:
            with self.db.transaction(immediate=True) as c:
                row = c.execute("SELECT text, at FROM more WHERE hash=?", (number_hash,)).fetchone()
                c.execute("DELETE FROM more WHERE hash=?", (number_hash,))
            return str(row[0]) if row and time.time() - row[1] <= MORE_TTL_S else ""
        return await self._run(op)

    async def take(self, number_hash: str, kind: str, wanted: int, limit: int) -> int:
        """Count up to ``wanted`` units of today's ``kind`` budget; return how many fit under ``limit``."""
        def op() -> int:
            day = today()
            with self.db.transaction(immediate=True) as c:
                row = c.execute("SELECT n FROM daily WHERE hash=? AND day=? AND kind=?",
                                (number_hash, day, kind)).fetchone()
                used = int(row[0]) if row else 0
                granted = max(0, min(wanted, limit - used))
                c.execute("INSERT INTO daily VALUES (?, ?, ?, ?) ON CONFLICT(hash, day, kind) "
                          "DO UPDATE SET n = excluded.n", (number_hash, day, kind, used + granted))
                c.execute("DELETE FROM daily WHERE day<>?", (day,))
            return granted
        return await self._run(op)

    async def first_within(self, number_hash: str, digest: str, window_s: float) -> bool:
        """True unless the same text came from the same number within ``window_s`` (a re-delivered MO)."""
        def op() -> bool:
            now = time.time()
            with self.db.transaction(immediate=True) as c:
                c.execute("DELETE FROM recent WHERE at<?", (now - window_s,))
                if c.execute("SELECT 1 FROM recent WHERE hash=? AND digest=?", (number_hash, digest)).fetchone():
                    return False
                c.execute("INSERT INTO recent VALUES (?, ?, ?)", (number_hash, digest, now))
            return True
        return await self._run(op)

    async def prune(self, cutoff: float) -> int:
        """Delete numbers not heard from since ``cutoff`` (epoch seconds) and everything stale; rows deleted."""
        def op() -> int:
            now = time.time()
            with self.db.transaction(immediate=True) as c:
                deleted = c.execute("DELETE FROM numbers WHERE at<?", (cutoff,)).rowcount
                deleted += c.execute("DELETE FROM options WHERE at<?", (min(cutoff, now - OPTIONS_TTL_S),)).rowcount
                deleted += c.execute("DELETE FROM more WHERE at<?", (min(cutoff, now - MORE_TTL_S),)).rowcount
                deleted += c.execute("DELETE FROM recent WHERE at<?", (cutoff,)).rowcount
                deleted += c.execute("DELETE FROM dlr WHERE updated_at<?", (cutoff,)).rowcount
                deleted += c.execute("DELETE FROM daily WHERE day<>?", (today(),)).rowcount
            return deleted
        return await self._run(op)

    async def dlr_sent(self, ref: str, number_hash: str) -> None:
        """Record a part handed to Kannel, awaiting its delivery report."""
        def op() -> None:
            now = time.time()
            with self.db.transaction() as c:
                c.execute("INSERT INTO dlr (ref, hash, sent_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                          (ref, number_hash, now, now))
        await self._run(op)

    async def dlr_report(self, ref: str, status: int, answer: str) -> bool:
        """Record a delivery report, never over a final one (Kannel's callbacks race); False for an unknown ref."""
        def op() -> bool:
            with self.db.transaction() as c:
                cur = c.execute("UPDATE dlr SET status=?, answer=?, updated_at=? WHERE ref=? AND status NOT IN "
                                f"{FINAL_DLR}", (status, answer[:200], time.time(), ref))
                return cur.rowcount > 0 or c.execute("SELECT 1 FROM dlr WHERE ref=?", (ref,)).fetchone() is not None
        return await self._run(op)

    async def dlr_status(self, ref: str) -> int | None:
        """The last delivery status of a part (0: none yet; Kannel's 1 delivered, 2 failed, 8 at SMSC...)."""
        def op() -> int | None:
            with self.db.transaction() as c:
                row = c.execute("SELECT status FROM dlr WHERE ref=?", (ref,)).fetchone()
            return int(row[0]) if row else None
        return await self._run(op)
