"""Rasa's SQL event broker, keeping only what the dashboard counts (no message text, no slot values but one).

Every Rasa replica appends to one ``events`` table (``id``, ``sender_id``, ``data``); the admin dashboard
reads it forward from the last id it folded (``admin.analytics``) instead of scanning the tracker store.
A user's words, entities and slot values never reach this table: the tracker store keeps them (masked)
for as long as the retention allows, and analytics need none of them.
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker

KEPT_SLOTS = frozenset({"procedure_code"})  # the dashboard's "most asked procedures"


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
    """``SQLEventBroker`` writing ``analytics_record`` of each event (and nothing for the others)."""

    def publish(self, event: dict[str, Any]) -> None:
        """Append the event's analytics record, if it has one."""
        record = analytics_record(event)
        if record is None:
            return
        with self.session_scope() as session:
            session.add(self.SQLBrokerEvent(sender_id=event.get("sender_id"), data=json.dumps(record)))
            session.commit()
