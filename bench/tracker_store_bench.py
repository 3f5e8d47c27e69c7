"""CPU of the tracker store's load and save per turn: Rasa's path (``speedups: false``) beside the new one.

Plays one 60-turn conversation (tests/dialogue/test_tracker_window.py's turns, parse data the size of a real
one) through ``RedactingSQLTrackerStore`` over a fresh SQLite file, with the window on, and reports the mean
process CPU (``time.process_time``) of ``retrieve`` and ``save`` over turns 30-60. The old path runs first,
before ``bot.rasa_speedups`` is installed in this process. Runs in .venv-rasa:
``flock /work/bench.lock .venv-rasa/bin/python bench/tracker_store_bench.py``; writes
bench/results/tracker_store.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from bot.tracker_store import RedactingSQLTrackerStore  # noqa: E402
from tests.dialogue.test_tracker_window import DOMAIN, _turn  # noqa: E402

TURNS = 60
RESULTS = ROOT / "bench" / "results" / "tracker_store.json"


def _sized(event: Event) -> Event:
    """A user event with an intent ranking and response selector as DIET and Rasa store them."""
    if not isinstance(event, UserUttered):
        return event
    parse = dict(event.parse_data, intent_ranking=[{"name": f"intent_{k}", "confidence": 0.1} for k in range(10)],
                 response_selector={"all_retrieval_intents": [], "default": {"ranking": []}})
    return UserUttered(event.text, event.intent, event.entities, parse_data=parse)  # type: ignore[arg-type]


async def _play(speedups: bool, tmp: Path) -> dict[str, Any]:
    """Mean CPU milliseconds of retrieve and save over the second half of the conversation."""
    store = RedactingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{tmp}/tracker-{speedups}.db", speedups=speedups)
    opening: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    loads, saves = [], []
    for i in range(TURNS):
        t0 = time.process_time()
        tracker = await store.retrieve("web:bench") or DialogueStateTracker("web:bench", DOMAIN.slots)
        t1 = time.process_time()
        for event in (opening if i == 0 else []) + _turn(i):
            tracker.update(_sized(event))
        t2 = time.process_time()
        await store.save(tracker)
        loads.append(t1 - t0)
        saves.append(time.process_time() - t2)
    half = TURNS // 2
    return {"retrieve_cpu_ms": round(1000 * sum(loads[half:]) / (TURNS - half), 2),
            "save_cpu_ms": round(1000 * sum(saves[half:]) / (TURNS - half), 2)}


def main() -> None:
    """Old path, then the new one, in this process; write the results."""
    with tempfile.TemporaryDirectory(prefix="tthc-store-") as tmp:
        old = asyncio.run(_play(False, Path(tmp)))
        new = asyncio.run(_play(True, Path(tmp)))
    out = {"benchmark": "tracker_store_load_save", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "load_avg_at_end": os.getloadavg(), "turns_measured": [TURNS // 2 + 1, TURNS],
           "old_speedups_false": old, "new": new,
           "ratios_new_over_old": {k: round(new[k] / old[k], 2) for k in old if old[k]}}
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
