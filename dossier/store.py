"""Our own state (audit, limits, subscriptions, outbox, verified pairs, alerts), SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from common.db import SqliteDB
from common.hashing import Hasher

__all__ = ["Hasher", "StateDB"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    channel TEXT NOT NULL,
    sender_hash TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rl_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rl_failures_key ON rl_failures(kind, key_hash, ts);
CREATE TABLE IF NOT EXISTS subscriptions (
    sender TEXT NOT NULL,
    code TEXT NOT NULL,
    channel TEXT NOT NULL,
    last_status TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (sender, code)
);
CREATE TABLE IF NOT EXISTS push_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at REAL,
    failed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS push_outbox_pending ON push_outbox(delivered_at, failed);
CREATE TABLE IF NOT EXISTS verified_pairs (
    pair_hash TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS code_alerts (
    code TEXT PRIMARY KEY,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL,
    until_ts REAL NOT NULL
);
"""


class StateDB(SqliteDB):
    """The state database; every write runs in an immediate transaction (``db.transaction(immediate=True)``)."""

    def __init__(self, path: Path) -> None:
        """Remember the path; the schema is created on first use."""
        super().__init__(path, SCHEMA, namespace="dossier")
