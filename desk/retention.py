"""Retention: conversations, hand-overs, feedback and unanswered questions older than the set age are deleted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import inspect, text

from common.db import make_engine
from desk.feedback import FeedbackStore
from desk.handoffs import HandoffQueue
from desk.live import LiveDesk
from desk.unanswered import UnansweredInbox


@dataclass(frozen=True)
class PurgeReport:
    """How many records one retention run deleted, per store."""

    tracker_events: int
    handoffs: int
    feedback: int
    unanswered: int

    @property
    def total(self) -> int:
        """Records deleted in all stores."""
        return self.tracker_events + self.handoffs + self.feedback + self.unanswered


def purge_tracker_events(url: str, cutoff: float) -> int:
    """Delete Rasa conversation events (SQL tracker store at ``url``) older than ``cutoff`` (epoch seconds)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return 0
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if not inspect(conn).has_table("events"):
                return 0
            result = conn.execute(text("DELETE FROM events WHERE timestamp < :cutoff"), {"cutoff": cutoff})
            return int(result.rowcount or 0)
    finally:
        engine.dispose()


def purge(data_dir: Path, inbox: UnansweredInbox, tracker_url: str, max_age_s: float,
          now: float | None = None) -> PurgeReport:
    """Delete everything personal older than ``max_age_s`` seconds: one retention run."""
    cutoff = (time.time() if now is None else now) - max_age_s
    return PurgeReport(
        tracker_events=purge_tracker_events(tracker_url, cutoff),
        handoffs=HandoffQueue(data_dir / "handoff.db").purge_before(cutoff)
        + LiveDesk(data_dir / "live.db").purge_before(cutoff),
        feedback=FeedbackStore(data_dir / "feedback.db").purge_before(cutoff),
        unanswered=inbox.purge_before(datetime.fromtimestamp(cutoff, timezone.utc)),
    )
