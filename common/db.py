"""Database helpers: SQLite files used one short transaction at a time, and SQLAlchemy engines for any URL."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

Migration = Callable[[sqlite3.Connection], None]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """Create the folder (and missing parents) readable by the service's user only."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def make_private(path: Path) -> None:
    """Make a SQLite file and its journal/WAL side files readable and writable by the owner only."""
    for candidate in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            os.chmod(candidate, PRIVATE_FILE)
        except FileNotFoundError:
            continue


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
            make_private(self.path)  # before WAL: SQLite gives the -wal/-shm files the database's mode
            conn.execute("PRAGMA journal_mode=WAL")
            if self.schema:
                conn.executescript(self.schema)
            if self.migrate is not None:
                self.migrate(conn)
            self._ready = True

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection: commit on success, roll back on error, always close."""
        private_dir(self.path.parent)
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
    path: Path | None = None
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url.removeprefix("sqlite:///"))
        private_dir(path.parent)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            """Private file mode, then WAL and the busy timeout."""
            if path is not None:
                make_private(path)
            _sqlite_pragmas(dbapi_connection)

        event.listen(engine, "connect", on_connect)
    return engine


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    """Use WAL and a 5-second busy timeout on every new SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
