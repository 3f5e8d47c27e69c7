"""Database helpers: SQLite files used one short transaction at a time, and SQLAlchemy engines for any URL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

Migration = Callable[[sqlite3.Connection], None]


class SqliteDB:
    """A SQLite file in WAL mode whose schema (and optional migration) is applied on first use."""

    def __init__(self, path: Path, schema: str = "", migrate: Migration | None = None) -> None:
        """Remember the path and schema; nothing is opened until first use."""
        self.path = Path(path)
        self.schema = schema
        self.migrate = migrate
        self._ready = False
        self._lock = threading.Lock()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Create the schema and run the migration once per process."""
        with self._lock:
            if self._ready:
                return
            conn.execute("PRAGMA journal_mode=WAL")
            if self.schema:
                conn.executescript(self.schema)
            if self.migrate is not None:
                self.migrate(conn)
            self._ready = True

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection: commit on success, roll back on error, always close."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            if not self._ready:
                self._prepare(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoint, never corrupt
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; a SQLite file gets its folder, WAL and a busy timeout, so writers share it."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Use WAL and a 5-second busy timeout on every new SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
