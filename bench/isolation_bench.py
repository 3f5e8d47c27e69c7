"""Isolation under load (issue 11 §1): ordinary users' p95 while 8 senders post maximum-length questions.

Drives the action server's own Action objects in-process, on one asyncio event loop, exactly as
rasa-sdk runs them (``await action.run(...)``), with the real hybrid searcher (the index and e5
model under the data dir) and the real dossier adapter and limits. In-process rather than the HTTP
server on a free port: the contention the issue found is inside the action server (encoder lock,
executor threads, event loop), and leaving out Rasa and HTTP removes noise from other processes
on this shared 2-core machine without removing any of it. Phases are interleaved
(baseline, loaded, ...) in ONE process run, and ratios compare them.

    .venv/bin/python bench/isolation_bench.py [--seconds 20] [--rounds 3] [--attacker-gap 0.1] [--out FILE]

Each attacker posts its next message ``--attacker-gap`` seconds after its answer: 0.1 s stands for
the rest of the real path (gateway, Rasa's NLU on a 2,000-character message), which this
in-process bench leaves out; 0.01 s is a flood no real path could deliver (results in
bench/results/isolation_flood.json). Writes bench/results/isolation.json by default.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rasa_sdk import Tracker  # noqa: E402
from rasa_sdk.executor import CollectingDispatcher  # noqa: E402

from bot.actions.dossier import ActionCheckDossier  # noqa: E402
from bot.actions.procedures import ActionAnswerProcedure  # noqa: E402
from common.messages import BUSY_TEXT  # noqa: E402
from dossier.seed import DEMO_CODE, DEMO_PHONE  # noqa: E402
from knowledge.answers import ask_shorter  # noqa: E402
from knowledge.service import shared_service  # noqa: E402

DEVSET = ROOT / "bench" / "devset" / "questions.tsv"
RESULTS = ROOT / "bench" / "results" / "isolation.json"
GATEWAY_MAX_CHARS = 2000  # the longest message any channel lets through
ATTACKERS = 8
ORDINARY_PACE_S = 0.25  # an ordinary user's think time between two requests
TIMEOUT_S = 20.0  # the gateway gives up on Rasa after this
SHORTER = ask_shorter().texts[0]


def questions() -> list[str]:
    """The dev set's real questions."""
    rows = [line.split("\t")[0] for line in DEVSET.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    return [q for q in rows if q != "question"]


def glued(real: list[str], chars: int) -> str:
    """Real questions glued into one message of exactly ``chars`` characters (a plausible long message)."""
    text = ""
    for q in itertools.cycle(real):
        if len(text) >= chars:
            return text[:chars]
        text += q + ". "
    raise AssertionError


def tracker(sender: str, text: str, slots: dict[str, Any] | None = None, intent: str = "ask_procedure") -> Tracker:
    """A tracker with ``text`` as the latest user message."""
    message = {"text": text, "intent": {"name": intent}, "entities": [], "metadata": {"channel": "web"}}
    return Tracker.from_dict({
        "sender_id": sender, "slots": slots or {}, "latest_message": message,
        "events": [{"event": "user", "text": text, "parse_data": message}], "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


async def timed(action: Any, t: Tracker) -> tuple[float, bool]:
    """Seconds one action run took (TIMEOUT_S when it did not finish) and whether it was refused (busy/shorter)."""
    dispatcher = CollectingDispatcher()
    start = time.perf_counter()
    try:
        await asyncio.wait_for(action.run(dispatcher, t, {}), TIMEOUT_S)
    except TimeoutError:
        return TIMEOUT_S, True
    busy = any((m.get("text") or "").startswith((BUSY_TEXT[:20], SHORTER[:20])) for m in dispatcher.messages)
    return time.perf_counter() - start, busy


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else float("nan")


async def phase(seconds: float, attack_chars: int, real: list[str], counter: itertools.count,
                gap: float) -> dict[str, Any]:
    """Run ordinary users (2 dossier lookups, 2 question askers) with ``ATTACKERS`` posting long questions."""
    ask, check = ActionAnswerProcedure(), ActionCheckDossier()
    stop = time.monotonic() + seconds
    lat: dict[str, list[float]] = {"lookup": [], "question": [], "attack": []}
    busy: dict[str, int] = {"lookup": 0, "question": 0, "attack": 0}
    long_text = glued(real, attack_chars) if attack_chars else ""

    async def ordinary(kind: str, offset: int) -> None:
        for i in itertools.count(offset):
            if time.monotonic() > stop:
                return
            sender = f"web:bench{next(counter):08d}"
            if kind == "lookup":
                t = tracker(sender, DEMO_PHONE[-4:], {"dossier_code": DEMO_CODE,
                                                      "verification_digits": DEMO_PHONE[-4:]}, "inform")
                dt, was_busy = await timed(check, t)
            else:
                dt, was_busy = await timed(ask, tracker(sender, real[(i * 7) % len(real)]))
            lat[kind].append(dt)
            busy[kind] += was_busy
            await asyncio.sleep(ORDINARY_PACE_S)

    async def attacker(n: int) -> None:
        while time.monotonic() < stop:
            dt, was_busy = await timed(ask, tracker(f"web:attacker{n:04d}", long_text))
            lat["attack"].append(dt)
            busy["attack"] += was_busy
            await asyncio.sleep(gap)

    tasks = [ordinary("lookup", 0), ordinary("lookup", 50), ordinary("question", 0), ordinary("question", 100)]
    if attack_chars:
        tasks += [attacker(n) for n in range(ATTACKERS)]
    await asyncio.gather(*tasks)
    return {"attack_chars": attack_chars, "seconds": seconds,
            **{f"{k}_n": len(v) for k, v in lat.items()},
            **{f"{k}_p95_s": round(p95(v), 4) for k, v in lat.items() if v},
            **{f"{k}_refused": n for k, n in busy.items()}}


async def main_async(seconds: float, rounds: int, gap: float) -> dict[str, Any]:
    """Warm up, then interleave the phases ``rounds`` times; pool each kind of phase."""
    real = questions()
    service = shared_service()
    for q in real[:5]:
        service.search(q)
    counter = itertools.count()
    kinds = {"baseline": 0, "attack_2000": GATEWAY_MAX_CHARS, "attack_900": 900}
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        for name, chars in kinds.items():
            result = await phase(seconds, chars, real, counter, gap)
            result.update(phase=name, round=r)
            runs.append(result)
            print(json.dumps(result, ensure_ascii=False), flush=True)
    summary: dict[str, Any] = {}
    for name in kinds:
        mine = [x for x in runs if x["phase"] == name]
        summary[name] = {k: round(sum(x.get(f"{k}_p95_s", 0) for x in mine) / len(mine), 4)
                         for k in ("lookup", "question")}
        summary[name]["ordinary_refused"] = sum(x["lookup_refused"] + x["question_refused"] for x in mine)
        summary[name]["attack_refused_share"] = round(
            sum(x["attack_refused"] for x in mine) / max(1, sum(x["attack_n"] for x in mine)), 3)
    base = summary["baseline"]
    for name in ("attack_2000", "attack_900"):
        summary[name]["lookup_ratio"] = round(summary[name]["lookup"] / base["lookup"], 2)
        summary[name]["question_ratio"] = round(summary[name]["question"] / base["question"], 2)
    return {"semantic_search": service.semantic, "runs": runs, "summary": summary}


def main() -> None:
    """Run the bench and write its results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="times the phases are interleaved")
    parser.add_argument("--attacker-gap", type=float, default=0.1, help="seconds between an attacker's posts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(main_async(args.seconds, args.rounds, args.attacker_gap))
    result.update(attacker_gap_s=args.attacker_gap, attackers=ATTACKERS)
    result.update(machine={"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_avg_at_end": os.getloadavg()},
                  method="in-process actions (rasa-sdk's Action.run on one event loop), phases interleaved",
                  target="p95 ratio (attack / baseline) <= 1.5 for lookups and questions")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
