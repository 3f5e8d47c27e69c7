"""Rasa's SQL event broker as configured in endpoints-cluster.yml: only what the dashboard counts is written."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("rasa")

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.utils.endpoints import read_endpoint_config

from bot.event_broker import AnalyticsSQLEventBroker

from .stored_events import stored_text

ROOT = Path(__file__).resolve().parents[2]


def test_broker_keeps_counts_and_drops_personal_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's text, entities and personal slot values never reach the broker's table."""
    db = tmp_path / "events.db"
    for name in ("ACTION_SERVER_URL", "TRACKER_STORE_URL", "REDIS_HOST", "REDIS_PORT"):
        monkeypatch.setenv(name, "unused")
    monkeypatch.setenv("ANALYTICS_DB_URL", f"sqlite:///{db}")
    config = read_endpoint_config(str(ROOT / "endpoints-cluster.yml"), "event_broker")
    broker = asyncio.run(EventBroker.create(config))
    assert isinstance(broker, AnalyticsSQLEventBroker)
    events = [
        UserUttered("hồ sơ 000.00.00.H00-250101-0001, sđt 0912345678", {"name": "check_status", "confidence": 0.9},
                    [{"entity": "phone", "value": "0912345678", "start": 29, "end": 39}],
                    metadata={"channel": "telegram"}),
        ActionExecuted("action_check_status"),
        SlotSet("phone_last4", "5678"),
        SlotSet("procedure_code", "1.004194"),
        BotUttered("Hồ sơ đang được xử lý", {"buttons": []}),
    ]
    for event in events:
        broker.publish({"sender_id": "tg:42", **event.as_dict()})
    asyncio.run(broker.close())  # what is queued is written before the writer stops
    rows = sqlite3.connect(db).execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    records = [json.loads(data) for _, data in rows]
    assert {sender for sender, _ in rows} == {"tg:42"}
    assert [r["event"] for r in records] == ["user", "action", "slot", "bot"]
    assert records[0]["intent"] == "check_status" and records[0]["channel"] == "telegram"
    assert records[2] == {"event": "slot", "timestamp": records[2]["timestamp"], "name": "procedure_code",
                          "value": "1.004194"}
    raw = stored_text(db)  # strings and integers: a timestamp may hold any four digits
    assert "0912345678" not in raw and "5678" not in raw and "đang được xử lý" not in raw
