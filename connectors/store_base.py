"""The gateway's database and the thread its work runs on: the schema, transactions, replica locks.

One SQLite file by default; with ``STATE_DB_URL`` the schema ``gateway`` on PostgreSQL, shared by every
gateway replica. All database work runs on one dedicated thread, off the event loop, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from common.db import SqliteDB

T = TypeVar("T")

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
CREATE TABLE IF NOT EXISTS arrivals (
    channel TEXT NOT NULL, sender TEXT NOT NULL, win INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (channel, sender, win)
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY, access_token TEXT NOT NULL, refresh_token TEXT NOT NULL,
    expires_at REAL NOT NULL, updated_at REAL NOT NULL
);
"""


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


class StoreBase:
    """The database and its thread; the stores' queries are built on ``_run`` and ``_tx``."""

    def __init__(self, path: Path, lease_s: float = 30.0, url: str | None = None) -> None:
        """Remember where the data lives (``url`` overrides ``STATE_DB_URL``); ``open`` creates the schema."""
        self.path = path
        self.db = SqliteDB(path, SCHEMA, _add_claim_columns, namespace="gateway", url=url, durable=True,
                          keep_open=True)
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
        """Close the kept connection and stop the database thread."""
        with contextlib.suppress(Exception):
            await self._run(self.db.close)
        self._executor.shutdown(wait=True)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold a lock every gateway replica respects while the block runs (e.g. one token refresh at a time)."""
        handle = await asyncio.to_thread(self.db.acquire, name)
        try:
            yield
        finally:
            await asyncio.to_thread(self.db.release, handle)
