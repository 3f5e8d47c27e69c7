"""Database helpers: stores in a SQLite file or a PostgreSQL schema; SQLAlchemy engines for any URL.

Each store works one short transaction at a time, in the SQL both engines share (``ON CONFLICT``,
``RETURNING``, ``?`` placeholders). On PostgreSQL the placeholders become ``%s``, each store lives in
its own schema (its SQLite file's namespace), the schema comes from the Alembic migrations
(``python -m common.migrate``), and a transaction opened with ``immediate=True`` takes a per-store
advisory lock, so writers are serialised exactly as SQLite's ``BEGIN IMMEDIATE`` serialises them,
across every replica.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from common.db_postgres import DatabaseError as DatabaseError
from common.db_postgres import PostgresDB as PostgresDB
from common.db_postgres import is_postgres as is_postgres
from common.db_postgres import to_pg as to_pg
from common.db_postgres import with_driver as with_driver

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


def state_db_url() -> str:
    """``STATE_DB_URL`` of this process: empty means every store keeps its SQLite file."""
    from common.settings import StorageSettings, get_settings

    return get_settings(StorageSettings).state_db_url


class SqliteDB:
    """A store's database: a SQLite file in WAL mode (schema applied on first use), or PostgreSQL.

    With ``STATE_DB_URL`` naming PostgreSQL, a store with a ``namespace`` lives in that schema there.
    """

    def __init__(self, path: Path, schema: str = "", migrate: Migration | None = None, namespace: str = "",
                 url: str | None = None, durable: bool = False, keep_open: bool = False) -> None:
        """Remember where the data lives; nothing is opened until first use.

        ``keep_open``: each thread keeps its SQLite connection between transactions (a store whose work
        runs on one dedicated thread); otherwise every transaction opens and closes its own.
        """
        self.path = Path(path)
        self.schema = schema
        self.migrate = migrate
        self.durable = durable
        self.keep_open = keep_open
        self._ready = False
        self._lock = threading.Lock()
        self._local = threading.local()
        url = state_db_url() if url is None and namespace else (url or "")
        self.pg: PostgresDB | None = PostgresDB(url, namespace) if namespace and is_postgres(url) else None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "postgresql" if self.pg is not None else "sqlite"

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
        """One transaction: commit on success, roll back on error; its connection closed after (unless kept)."""
        if self.pg is not None:
            with self.pg.transaction(immediate) as pg_conn:
                yield cast(sqlite3.Connection, pg_conn)  # duck-typed: the subset of sqlite3 the stores use
            return
        conn = self._local.conn if self.keep_open and hasattr(self._local, "conn") else self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except BaseException:
            self._drop(conn)
            raise
        if not self.keep_open:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        """A new connection, the schema applied (first time) and the sync level set; kept when ``keep_open``."""
        private_dir(self.path.parent)
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            if not self._ready:
                self._prepare(conn)
            # WAL + NORMAL: durable at checkpoint, never corrupt; FULL for stores that must not lose a row
            conn.execute("PRAGMA synchronous=FULL" if self.durable else "PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        if self.keep_open:
            self._local.conn = conn
        return conn

    def _drop(self, conn: sqlite3.Connection) -> None:
        """Close a connection after a failed transaction: the next one starts on a fresh connection."""
        if getattr(self._local, "conn", None) is conn:
            del self._local.conn
        conn.close()

    def close(self) -> None:
        """Close the calling thread's kept connection (``keep_open``); nothing otherwise."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            del self._local.conn
            conn.close()

    def acquire(self, name: str, wait: bool = True) -> Any:
        """Take the lock ``name`` that every replica sharing this store respects; a handle for ``release``.

        None when ``wait`` is off and another holder has it (PostgreSQL advisory lock; in-process on SQLite).
        """
        if self.pg is not None:
            return self.pg.acquire(name, wait)
        lock = _local_lock(f"{self.path}:{name}")
        if not lock.acquire(blocking=wait):
            return None
        try:  # then the processes on this machine that share the file
            private_dir(self.path.parent)
            fd = os.open(self.path.with_name(f"{self.path.name}.{name}.lock"), os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                lock.release()
                return None
        except BaseException:
            lock.release()
            raise
        return (lock, fd)

    def release(self, handle: Any) -> None:
        """Give back a lock taken with ``acquire``."""
        if handle is None:
            return
        if self.pg is not None:
            self.pg.release(handle)
            return
        lock, fd = handle
        os.close(fd)  # closing the file drops the flock
        lock.release()

    def still_held(self, handle: Any) -> bool:
        """True while a lock from ``acquire`` is still held (a PostgreSQL lock dies with its connection)."""
        return handle is not None and (self.pg is None or self.pg.still_held(handle))

    @contextmanager
    def session_lock(self, name: str, wait: bool = True) -> Iterator[bool]:
        """Hold the lock ``name`` while the block runs; yields False when ``wait`` is off and it is taken."""
        handle = self.acquire(name, wait)
        try:
            yield handle is not None
        finally:
            self.release(handle)


Database = SqliteDB  # the name says what it was; it now serves PostgreSQL too

_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def _local_lock(key: str) -> threading.Lock:
    """One process-wide lock per key."""
    with _LOCAL_LOCKS_GUARD:
        return _LOCAL_LOCKS.setdefault(key, threading.Lock())


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; a SQLite file gets its folder, WAL and a busy timeout, so writers share it."""
    path: Path | None = None
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url.removeprefix("sqlite:///"))
        private_dir(path.parent)
    engine = create_engine(with_driver(url), future=True)
    if engine.dialect.name == "sqlite":

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            """Private file mode, then WAL and the busy timeout."""
            if path is not None:
                make_private(path)
            _sqlite_pragmas(dbapi_connection)

        event.listen(engine, "connect", on_connect)
    return engine


def create_tables(metadata: MetaData, engine: Engine, attempts: int = 3) -> None:
    """``metadata.create_all`` that survives another process creating the same tables at the same moment.

    ``create_all`` checks which tables exist, then creates the others: two processes starting together on one
    file can both find a table missing, and the second CREATE fails. Run again, it finds the table there.
    """
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError as exc:
            if attempt == attempts - 1 or not any(s in str(exc) for s in ("already exists", "duplicate key")):
                raise


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    """Use WAL and a 5-second busy timeout on every new SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
