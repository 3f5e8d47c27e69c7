"""The procedure catalogue in SQL (SQLite by default, PostgreSQL via URL), with versions and a revision.

Each procedure is stored as its JSON document plus a few columns for listing. Every write keeps the
previous document in ``procedure_versions`` (history, rollback) and bumps ``revision``, which the
search index compares with the revision it was built from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from common.db import create_tables, make_engine
from knowledge.schema import Procedure

metadata = MetaData()

procedures = Table(
    "procedures",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("field", Text, nullable=False, default=""),
    Column("document", Text, nullable=False),
    Column("retired", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

procedure_versions = Table(
    "procedure_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, index=True),
    Column("document", Text, nullable=True),  # the document before the change (None: newly added)
    Column("revision", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("source", String(200), nullable=False, default=""),
)

catalogue_state = Table(
    "catalogue_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

def now_utc() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def _dump(procedure: Procedure) -> str:
    """Serialise a procedure as stable JSON text."""
    return json.dumps(procedure.to_dict(), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class WriteResult:
    """What a batch write changed."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    revision: int


class Catalogue:
    """The procedure catalogue over one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        """Open (and create if needed) the catalogue at ``url``."""
        self.url = url
        self.engine: Engine = make_engine(url)
        create_tables(metadata, self.engine)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Yield a connection inside one transaction (rolled back on any error)."""
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------ revision

    def revision(self) -> int:
        """Return the catalogue revision (increases on every write)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(catalogue_state.c.value).where(catalogue_state.c.key == "revision")
            ).scalar()
        return int(value or 0)

    def _bump_revision(self, conn: Connection) -> int:
        """Increase the revision inside ``conn``'s transaction and return the new value."""
        updated = conn.execute(
            update(catalogue_state)
            .where(catalogue_state.c.key == "revision")
            .values(value=catalogue_state.c.value + 1)
        )
        if updated.rowcount == 0:
            conn.execute(insert(catalogue_state).values(key="revision", value=1))
        return int(
            conn.execute(
                select(catalogue_state.c.value).where(catalogue_state.c.key == "revision")
            ).scalar_one()
        )

    # ------------------------------------------------------------ procedures

    def upsert_many(self, items: Iterable[Procedure], source: str = "") -> WriteResult:
        """Insert or replace procedures in one transaction; unchanged documents are not rewritten."""
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        with self.transaction() as conn:
            revision = None
            for procedure in items:
                document = _dump(procedure)
                old = conn.execute(
                    select(procedures.c.document).where(procedures.c.code == procedure.code)
                ).scalar()
                if old == document:
                    unchanged.append(procedure.code)
                    continue
                if revision is None:
                    revision = self._bump_revision(conn)
                self._write(conn, procedure, document, old, revision, source)
                (updated if old is not None else added).append(procedure.code)
            final = revision if revision is not None else self._current(conn)
        return WriteResult(added, updated, unchanged, final)

    def upsert(self, procedure: Procedure, source: str = "") -> WriteResult:
        """Insert or replace one procedure."""
        return self.upsert_many([procedure], source=source)

    def _current(self, conn: Connection) -> int:
        """Read the revision inside a transaction."""
        value = conn.execute(
            select(catalogue_state.c.value).where(catalogue_state.c.key == "revision")
        ).scalar()
        return int(value or 0)

    def _write(
        self, conn: Connection, procedure: Procedure, document: str, old: str | None, revision: int, source: str
    ) -> None:
        """Write one document and keep the previous one as a version."""
        stamp = now_utc()
        conn.execute(
            insert(procedure_versions).values(
                code=procedure.code, document=old, revision=revision, changed_at=stamp, source=source[:200]
            )
        )
        values = {
            "title": procedure.title,
            "field": procedure.field,
            "document": document,
            "retired": procedure.retired,
            "updated_at": stamp,
        }
        if old is None:
            conn.execute(insert(procedures).values(code=procedure.code, **values))
        else:
            conn.execute(update(procedures).where(procedures.c.code == procedure.code).values(**values))

    def get(self, code: str, include_retired: bool = True) -> Procedure | None:
        """Return one procedure by code, or None."""
        query = select(procedures.c.document).where(procedures.c.code == code.strip())
        if not include_retired:
            query = query.where(procedures.c.retired.is_(False))
        with self.engine.connect() as conn:
            document = conn.execute(query).scalar()
        return Procedure.from_dict(json.loads(document)) if document else None

    def get_many(self, codes: Iterable[str]) -> dict[str, Procedure]:
        """Return the procedures for ``codes`` that exist, keyed by code."""
        wanted = list(dict.fromkeys(codes))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(procedures.c.code, procedures.c.document).where(procedures.c.code.in_(wanted))
            ).all()
        return {code: Procedure.from_dict(json.loads(doc)) for code, doc in rows}

    def all(self, include_retired: bool = False) -> list[Procedure]:
        """Return every procedure, ordered by code."""
        query = select(procedures.c.document).order_by(procedures.c.code)
        if not include_retired:
            query = query.where(procedures.c.retired.is_(False))
        with self.engine.connect() as conn:
            return [Procedure.from_dict(json.loads(doc)) for doc in conn.execute(query).scalars()]

    def codes(self, include_retired: bool = True) -> set[str]:
        """Return the set of stored codes."""
        query = select(procedures.c.code)
        if not include_retired:
            query = query.where(procedures.c.retired.is_(False))
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def count(self, include_retired: bool = False) -> int:
        """Return how many procedures are stored."""
        query = select(func.count()).select_from(procedures)
        if not include_retired:
            query = query.where(procedures.c.retired.is_(False))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def retire(self, code: str, retired: bool = True, source: str = "") -> bool:
        """Mark a procedure retired (hidden from answers) or bring it back; False if unknown."""
        procedure = self.get(code)
        if procedure is None:
            return False
        if procedure.retired != retired:
            procedure.retired = retired
            self.upsert(procedure, source=source or ("retire" if retired else "unretire"))
        return True

    def versions(self, code: str) -> list[tuple[int, Procedure | None, datetime, str]]:
        """Return ``(revision, previous document, changed_at, source)`` for ``code``, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    procedure_versions.c.revision,
                    procedure_versions.c.document,
                    procedure_versions.c.changed_at,
                    procedure_versions.c.source,
                )
                .where(procedure_versions.c.code == code)
                .order_by(procedure_versions.c.id.desc())
            ).all()
        return [
            (rev, Procedure.from_dict(json.loads(doc)) if doc else None, changed, source)
            for rev, doc, changed, source in rows
        ]

    def stats(self) -> dict[str, Any]:
        """Return counts for the CLI and the admin console."""
        with self.engine.connect() as conn:
            by_field = conn.execute(
                select(procedures.c.field, func.count())
                .where(procedures.c.retired.is_(False))
                .group_by(procedures.c.field)
                .order_by(func.count().desc())
            ).all()
        return {
            "procedures": self.count(),
            "retired": self.count(include_retired=True) - self.count(),
            "revision": self.revision(),
            "fields": len(by_field),
            "top_fields": [(name or "(none)", int(n)) for name, n in by_field[:10]],
        }
