"""What Rasa's SQL event broker (bot.event_broker) adds to a turn, against the tracker store's write of that turn.

Run with the Rasa venv: ``.venv-rasa/bin/python bench/event_broker_bench.py``. For SQLite files and for a
throwaway PostgreSQL (tests/cluster/services.py: fsync off, loopback), the same process times, per turn of
a typical exchange (user message, action, slot, bot answer, action_listen): Rasa's ``SQLTrackerStore.save``
(the baseline, which every message already pays), Rasa's stock ``SQLEventBroker.publish`` (one commit per
event) and ``AnalyticsSQLEventBroker.publish`` (queued; a writer thread inserts batches), both on the
caller's thread as Rasa's event loop runs them. Results: bench/results/event_broker.json (wall ms per turn).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "event_broker.json"


def turn_events(i: int) -> list[Any]:
    """The events one ordinary question adds to a conversation."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    return [
        UserUttered(f"làm hộ chiếu cần giấy tờ gì {i}", {"name": "ask_procedure", "confidence": 0.93}, [],
                    metadata={"channel": "telegram"}),
        ActionExecuted("action_answer_procedure"),
        SlotSet("procedure_code", "1.001193"),
        BotUttered("Hồ sơ gồm: tờ khai, ảnh chân dung, giấy tờ tùy thân ...", {"buttons": []}),
        ActionExecuted("action_listen"),
    ]


async def measure(url: str, turns: int) -> dict[str, float]:
    """Milliseconds per turn for the tracker store's save and for the broker's publish, on one database."""
    from rasa.core.brokers.sql import SQLEventBroker
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.event_broker import AnalyticsSQLEventBroker

    domain = Domain.from_dict({"slots": {"procedure_code": {"type": "any", "mappings": []}}})
    store = SQLTrackerStore(domain, host=url.replace("events", "tracker"))
    broker = AnalyticsSQLEventBroker(host=url)
    stock = SQLEventBroker(host=url.replace("events", "stock"))
    save_s = publish_s = stock_s = 0.0
    for i in range(turns):
        sender = f"tg:{i % 20}"
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
        events = turn_events(i)
        for event in events:
            tracker.update(event)
        start = time.perf_counter()
        await store.save(tracker)
        save_s += time.perf_counter() - start
        start = time.perf_counter()
        for event in events:
            stock.publish({"sender_id": sender, **event.as_dict()})
        stock_s += time.perf_counter() - start
        start = time.perf_counter()
        for event in events:
            broker.publish({"sender_id": sender, **event.as_dict()})
        publish_s += time.perf_counter() - start
    start = time.perf_counter()
    broker.flush()
    flush_s = time.perf_counter() - start
    await broker.close()
    broker.engine.dispose()
    stock.engine.dispose()
    store.engine.dispose()
    return {"tracker_save_ms_per_turn": round(1000 * save_s / turns, 2),
            "stock_sql_broker_publish_ms_per_turn": round(1000 * stock_s / turns, 2),
            "stock_broker_over_tracker_save": round(stock_s / save_s, 2),
            "analytics_broker_publish_ms_per_turn": round(1000 * publish_s / turns, 3),
            "analytics_broker_over_tracker_save": round(publish_s / save_s, 3),
            "writer_backlog_at_end_ms": round(1000 * flush_s, 1)}


def main() -> int:
    """Run both databases and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from tests.cluster.services import start_postgres

    results: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                               "load_average_before": os.getloadavg(), "turns": args.turns}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = asyncio.run(measure(f"sqlite:///{tmp}/events.db", args.turns))
    server = start_postgres()
    try:
        for db in ("events", "tracker", "stock"):
            server.create_database(db)
        results["postgresql"] = asyncio.run(measure(server.url("events"), args.turns))
    finally:
        server.stop()
    results["load_average_after"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
