"""The unanswered-question inbox: questions the bot could not match, for staff to link or dismiss.

Stored in the catalogue's database (table ``unanswered_questions``) so staff see the questions
beside the procedures they may belong to; it may share the catalogue's SQLAlchemy engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from common.db import create_tables, make_engine
from common.text import mask_pii, normalize_query
from desk.privacy import hash_sender

metadata = MetaData()

unanswered_questions = Table(
    "unanswered_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("folded_text", Text, nullable=False),
    Column("channel", String(32), nullable=False, default=""),
    Column("sender_hash", String(64), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("best_code", String(64), nullable=True),
    Column("best_score", Float, nullable=True),
    Column("status", String(16), nullable=False, default="new"),
)


@dataclass(frozen=True)
class UnansweredQuestion:
    """One question the bot could not match to a procedure."""

    id: int
    text: str
    folded_text: str
    channel: str
    sender_hash: str
    created_at: datetime
    best_code: str | None
    best_score: float | None
    status: str


class UnansweredInbox:
    """Log, list and triage unanswered questions over a SQLAlchemy engine (or a database URL)."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        """Use ``url_or_engine`` (e.g. the catalogue's engine) and create the table if needed."""
        if isinstance(url_or_engine, Engine):
            self.engine = url_or_engine
        else:
            self.engine = make_engine(url_or_engine)
        create_tables(metadata, self.engine)

    def log(
        self,
        text: str,
        channel: str = "",
        sender_id: str = "",
        best_code: str | None = None,
        best_score: float | None = None,
    ) -> int:
        """Record a question the bot could not answer (phone/CCCD masked, sender id keyed-hashed); returns its id."""
        text = mask_pii(text[:2000])
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(unanswered_questions).values(
                    text=text,
                    folded_text=normalize_query(text)[:2000],
                    channel=channel[:32],
                    sender_hash=hash_sender(sender_id) if sender_id else "",
                    created_at=datetime.now(timezone.utc),
                    best_code=best_code,
                    best_score=best_score,
                    status="new",
                )
            )
            key = result.inserted_primary_key
            return int(key[0]) if key else 0

    def questions(self, status: str | None = "new", limit: int = 100) -> list[UnansweredQuestion]:
        """Return logged questions, newest first (``status=None`` for all)."""
        query = select(unanswered_questions).order_by(unanswered_questions.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(unanswered_questions.c.status == status)
        with self.engine.connect() as conn:
            return [UnansweredQuestion(**row._mapping) for row in conn.execute(query)]

    def set_status(self, question_id: int, status: str) -> bool:
        """Mark a logged question (e.g. ``linked``, ``dismissed``); False if unknown."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(unanswered_questions)
                .where(unanswered_questions.c.id == question_id)
                .values(status=status[:16])
            )
        return bool(result.rowcount)

    def purge_before(self, cutoff: datetime) -> int:
        """Delete questions logged before ``cutoff`` (retention); returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(unanswered_questions).where(unanswered_questions.c.created_at < cutoff))
        return int(result.rowcount or 0)

    def count(self, status: str | None = None) -> int:
        """How many questions are logged (with ``status``, or all)."""
        query = select(func.count()).select_from(unanswered_questions)
        if status is not None:
            query = query.where(unanswered_questions.c.status == status)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
