"""Dashboard analytics folded incrementally from Rasa's event broker table (``bot.event_broker``).

Each refresh reads the rows after the last id it folded, in batches, and adds them to per-day totals,
so the dashboard neither rescans the tracker store nor drops anyone above a row limit. Days older than
``KEEP_DAYS`` are forgotten; a process that starts reads the table once from the beginning (the
retention job keeps it to ``RETENTION_DAYS``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from admin.dashboard import LOCAL_TZ, Stats
from common.channels import channel_from
from common.db import make_engine

log = logging.getLogger(__name__)
BATCH = 5000
KEEP_DAYS = 100  # the dashboard shows at most 90 days


@dataclass
class DayTotals:
    """What one day of events adds to the dashboard."""

    senders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # channel -> senders
    user_turns: int = 0
    procedure_questions: int = 0
    fallbacks: int = 0
    response_times: list[float] = field(default_factory=list)
    asked: Counter[str] = field(default_factory=Counter)


class BrokerAnalytics:
    """Per-day totals of the broker's ``events`` table, kept up to date by ``refresh``."""

    def __init__(self, url: str) -> None:
        """Read the table at ``url``; nothing is opened until the first refresh."""
        self.url = url
        self.cursor = 0
        self.days: dict[date, DayTotals] = {}
        self._engine: Engine | None = None
        self._pending_user: dict[str, float] = {}
        self._first_action: dict[str, bool] = {}
        self._lock = threading.Lock()

    def refresh(self) -> int:
        """Fold the rows added since the last refresh; return how many were read."""
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.url)
            query = text("SELECT id, sender_id, data FROM events WHERE id > :cursor ORDER BY id LIMIT :batch")
            read = 0
            while True:
                with self._engine.connect() as conn:
                    rows = conn.execute(query, {"cursor": self.cursor, "batch": BATCH}).all()
                for rid, sender, data in rows:
                    self._fold(str(sender or ""), data)
                    self.cursor = int(rid)
                read += len(rows)
                if len(rows) < BATCH:
                    break
            self._forget_old()
            return read

    def _fold(self, sender: str, raw: str | None) -> None:
        """Add one event to its day."""
        try:
            event = json.loads(raw or "{}")
            ts = float(event["timestamp"])
        except (ValueError, TypeError, KeyError):
            return
        kind = event.get("event")
        day = self.days.setdefault(datetime.fromtimestamp(ts, LOCAL_TZ).date(), DayTotals())
        if kind == "user":
            if event.get("session_start"):
                return
            channel = channel_from(sender, {"channel": event["channel"]} if event.get("channel") else None)
            day.senders[channel].add(sender)
            day.user_turns += 1
            intent = event.get("intent")
            day.procedure_questions += intent == "ask_procedure"
            day.fallbacks += intent == "nlu_fallback"
            self._first_action[sender] = intent != "nlu_fallback"
            self._pending_user[sender] = ts
        elif kind == "action" and event.get("name") not in (None, "action_listen", "action_session_start"):
            if self._first_action.pop(sender, False) and event.get("name") == "action_fallback":
                day.fallbacks += 1
        elif kind == "bot" and sender in self._pending_user:
            day.response_times.append(max(0.0, ts - self._pending_user.pop(sender)))
        elif kind == "slot" and event.get("value"):
            day.asked[str(event["value"])] += 1

    def _forget_old(self) -> None:
        """Drop days the dashboard can no longer show."""
        today = datetime.now(LOCAL_TZ).date()
        for day in [d for d in self.days if (today - d).days > KEEP_DAYS]:
            del self.days[day]

    def fill(self, stats: Stats) -> None:
        """Conversations, turns, fallbacks, top procedures and response times of ``stats.days``."""
        asked: Counter[str] = Counter()
        with self._lock:
            for i, day in enumerate(stats.days):
                totals = self.days.get(day)
                if totals is None:
                    continue
                for channel, senders in totals.senders.items():
                    stats.conversations.setdefault(channel, [0] * len(stats.days))[i] += len(senders)
                stats.user_turns += totals.user_turns
                stats.procedure_questions += totals.procedure_questions
                stats.fallbacks += totals.fallbacks
                stats.response_times.extend(totals.response_times)
                asked.update(totals.asked)
        stats.top_procedures = asked.most_common(10)

    def close(self) -> None:
        """Release the pool."""
        if self._engine is not None:
            self._engine.dispose()




def _timestamp(raw: str | None) -> float:
    """An analytics record's timestamp (0 when it has none)."""
    try:
        return float(json.loads(raw or "{}").get("timestamp") or 0.0)
    except (ValueError, TypeError, AttributeError):
        return 0.0


def _last_id_before(engine: Engine, cutoff: float) -> int:
    """The id of the last row older than ``cutoff`` before the first newer one (0: none)."""
    last_old = 0
    query = text("SELECT id, data FROM events WHERE id > :after ORDER BY id LIMIT :batch")
    with engine.connect() as conn:
        while True:
            rows = conn.execute(query, {"after": last_old, "batch": BATCH}).all()
            for rid, raw in rows:
                if _timestamp(raw) >= cutoff:
                    return last_old
                last_old = int(rid)
            if len(rows) < BATCH:
                return last_old


def purge_before(url: str, cutoff: float) -> int:
    """Delete the broker rows older than ``cutoff`` (epoch seconds); rows are appended in time order."""
    engine = make_engine(url)
    try:
        last_old = _last_id_before(engine, cutoff)
        if not last_old:
            return 0
        with engine.begin() as conn:
            return int(conn.execute(text("DELETE FROM events WHERE id <= :last"), {"last": last_old}).rowcount or 0)
    finally:
        engine.dispose()
