"""Rasa's SQL event broker, keeping only what the dashboard counts (no message text, no slot values but one).

Every Rasa replica appends to one ``events`` table (``id``, ``sender_id``, ``data``); the admin dashboard
reads it forward from the last id it folded (``admin.analytics``) instead of scanning the tracker store.
A user's words, entities and slot values never reach this table: the tracker store keeps them (masked)
for as long as the retention allows, and analytics need none of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker

log = logging.getLogger(__name__)
KEPT_SLOTS = frozenset({"procedure_code"})  # the dashboard's "most asked procedures"
MAX_QUEUED = 100_000
MAX_BATCH = 500


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a dict, else an empty one."""
    return value if isinstance(value, dict) else {}


def analytics_record(event: dict[str, Any]) -> dict[str, Any] | None:
    """The part of a Rasa event the dashboard uses; None for events it ignores."""
    kind = event.get("event")
    record: dict[str, Any] = {"event": kind, "timestamp": event.get("timestamp")}
    if kind == "user":
        parse, metadata = _mapping(event.get("parse_data")), _mapping(event.get("metadata"))
        intent = _mapping(parse.get("intent"))
        text = str(event.get("text") or "")
        record.update(intent=intent.get("name"), channel=metadata.get("channel"),
                      session_start=text.startswith("/session_start"))
    elif kind == "action":
        record["name"] = event.get("name")
    elif kind == "slot":
        if event.get("name") not in KEPT_SLOTS:
            return None
        record.update(name=event.get("name"), value=event.get("value"))
    elif kind != "bot":
        return None
    return record


class AnalyticsSQLEventBroker(SQLEventBroker):
    """``SQLEventBroker`` writing ``analytics_record`` of each event, in batches, off Rasa's event loop.

    Rasa publishes every event synchronously on its event loop, and the stock broker commits each one
    (measured: bench/event_broker_bench.py); here ``publish`` only queues the record and one writer
    thread inserts whatever has queued in one transaction. A replica killed with ``kill -9`` loses the
    records still queued (at most a few turns of analytics; the conversations are in the tracker store).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Connect (creating the table), then start the writer thread."""
        super().__init__(*args, **kwargs)
        self._queue: queue.Queue[tuple[str | None, str] | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._writer = threading.Thread(target=self._write, name="analytics-broker", daemon=True)
        self._writer.start()

    def publish(self, event: dict[str, Any]) -> None:
        """Queue the event's analytics record, if it has one (dropped, with a warning, when the queue is full)."""
        record = analytics_record(event)
        if record is None:
            return
        try:
            self._queue.put_nowait((event.get("sender_id"), json.dumps(record)))
        except queue.Full:
            log.warning("analytics broker: queue full, an event is not recorded")

    def _write(self) -> None:
        """Insert queued records, each batch in one transaction, until ``None`` arrives."""
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [item for item in batch if item is not None]
            if rows:
                try:
                    with self.session_scope() as session:
                        session.add_all([self.SQLBrokerEvent(sender_id=sender, data=data) for sender, data in rows])
                        session.commit()
                except Exception:
                    log.exception("analytics broker: %d event(s) not recorded", len(rows))
            for _ in batch:
                self._queue.task_done()
            if len(rows) < len(batch):
                return

    def flush(self) -> None:
        """Wait until every queued record is written."""
        self._queue.join()

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join, 10)
