"""PostgreSQL side of the stores: a store's schema, its transactions and advisory locks, pooled engines."""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

NAMESPACES = ("dossier", "desk", "admin", "gateway", "sms")  # one PostgreSQL schema per store file


class DatabaseError(sqlite3.Error):
    """A store's database failed (PostgreSQL); a ``sqlite3.Error`` so callers' existing handlers catch it."""


def is_postgres(url: str) -> bool:
    """True for a PostgreSQL URL (``postgresql://`` or ``postgresql+driver://``)."""
    return url.startswith(("postgresql://", "postgresql+", "postgres://"))


def with_driver(url: str) -> str:
    """``postgresql://`` with the driver both venvs ship (psycopg2; SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    return zlib.crc32(name.encode()) | (0x7A11 << 32)


def to_pg(sql: str) -> str:
    """SQLite-style SQL to psycopg's with parameters: ``?`` (outside quotes) to ``%s``, literal ``%`` doubled."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


class _PgConnection:
    """A psycopg2 connection behaving like the part of ``sqlite3.Connection`` the stores use."""

    def __init__(self, raw: Any) -> None:
        """Wrap a DBAPI connection inside an open transaction."""
        self.raw = raw

    def execute(self, sql: str, params: Any = ()) -> Any:
        """Run one statement; the cursor's rows are readable by index and by column name."""
        from psycopg2.extras import DictCursor

        cur = self.raw.cursor(cursor_factory=DictCursor)
        params = tuple(params)
        if params:
            cur.execute(to_pg(sql), params)
        else:
            cur.execute(sql)
        return cur

    def executemany(self, sql: str, seq: Any) -> Any:
        """Run one statement for each parameter tuple."""
        from psycopg2.extras import DictCursor

        cur = self.raw.cursor(cursor_factory=DictCursor)
        cur.executemany(to_pg(sql), [tuple(p) for p in seq])
        return cur


_ENGINES: dict[str, Engine] = {}
_ENGINES_GUARD = threading.Lock()


def shared_engine(url: str) -> Engine:
    """One pooled engine per URL per process (the stores of a process share its connections)."""
    with _ENGINES_GUARD:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = create_engine(with_driver(url), future=True, pool_size=4, max_overflow=8,
                                                   pool_pre_ping=True, pool_recycle=1800)
        return engine


class PostgresDB:
    """One store's schema in a PostgreSQL database (tables created by the Alembic migrations)."""

    def __init__(self, url: str, namespace: str) -> None:
        """Use schema ``namespace`` of the database at ``url``."""
        if namespace not in NAMESPACES:
            raise ValueError(f"unknown store namespace {namespace!r}")
        self.url, self.namespace = url, namespace
        self._checked = False

    @contextmanager
    def _raw(self) -> Iterator[Any]:
        """A pooled DBAPI connection, returned to the pool (rolled back) afterwards."""
        import psycopg2

        try:
            raw = shared_engine(self.url).raw_connection()
        except Exception as exc:
            raise DatabaseError(f"cannot connect to the state database: {type(exc).__name__}") from exc
        try:
            yield raw
        except psycopg2.Error as exc:
            raise DatabaseError(f"state database error: {exc}".strip()) from exc
        finally:
            raw.close()

    def _check(self, raw: Any) -> None:
        """Refuse to run on a database the migrations have not reached (once per process)."""
        if self._checked:
            return
        cur = raw.cursor()
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (self.namespace,))
        if cur.fetchone() is None:
            raise DatabaseError(f"schema {self.namespace!r} missing: run 'python -m common.migrate' first")
        self._checked = True

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[_PgConnection]:
        """One transaction in this store's schema; ``immediate`` serialises it with the store's other writers."""
        with self._raw() as raw:
            self._check(raw)
            cur = raw.cursor()
            cur.execute(f'SET LOCAL search_path TO "{self.namespace}"')
            if immediate:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("store:" + self.namespace),))
            try:
                yield _PgConnection(raw)
            except BaseException:
                raw.rollback()
                raise
            raw.commit()

    def acquire(self, name: str, wait: bool = True) -> Any:
        """Take the session advisory lock ``name`` on a connection of its own; that connection is the handle."""
        raw: Any = shared_engine(self.url).raw_connection()
        try:
            raw.dbapi_connection.autocommit = True  # the lock belongs to the session, not to a transaction
            cur = raw.cursor()
            cur.execute("SELECT pg_advisory_lock(%s)" if wait else "SELECT pg_try_advisory_lock(%s)",
                        (lock_key(f"{self.namespace}:{name}"),))
            got = wait or bool(cur.fetchone()[0])
        except BaseException:
            raw.close()
            raise
        if not got:
            raw.dbapi_connection.autocommit = False
            raw.close()
            return None
        return (raw, name)

    def still_held(self, handle: Any) -> bool:
        """True while the lock's connection answers (the server drops a session's locks with the session)."""
        raw, _name = handle
        try:
            raw.cursor().execute("SELECT 1")
        except Exception:
            return False
        return True

    def release(self, handle: Any) -> None:
        """Unlock and return the connection to the pool (a dead connection released its locks already)."""
        raw, name = handle
        try:
            raw.cursor().execute("SELECT pg_advisory_unlock(%s)", (lock_key(f"{self.namespace}:{name}"),))
            raw.dbapi_connection.autocommit = False
        except Exception:  # the connection is gone, and with it the lock
            raw.invalidate()
        finally:
            raw.close()
