"""Cost per message and how it grows: today's configuration beside the new one, same machine, same run.

Each variant runs the real stack (action server, Rasa with models/tthc.tar.gz, the connectors gateway with
fake Telegram/Zalo APIs, all on free loopback ports, over a private copy of var/) and measures:

- CPU per message: one sender at a time posts typed procedure questions (then button payloads) straight to
  Rasa's REST webhook; each process's CPU comes from /proc/<pid>/task/*/schedstat (nanoseconds, all threads).
- Growth: three conversations of 101 turns (a cycle of 5 kinds of message), interleaved turn by turn; Rasa +
  action server CPU of turns 2-6, 20-24 and 97-101, per turn the median of the three (each window holds the
  same five messages, so windows differ only in the history behind them).
- Load through the webhooks (bench/channels_bench.py's users, replies timed at the fake APIs): 20 chat-like
  users (3-8 s think time), 20 users at about one message a second, and 20 users with no think time
  (throughput, and CPU per message of every process).

Variants: ``baseline`` is today's behaviour (the whole session loaded every turn: ``window_turns: 0``;
Rasa's action calls and policy ensemble untouched: ``speedups: false``; payloads through the NLU pipeline:
``parse_payloads: false``; TensorFlow's default thread pools),
``new`` is the repository's endpoints.yml, credentials.yml and scripts/env.sh as they are.
Ratios are new / baseline from the same run. Bounded: < 10 min on 2 cores (``--quick``: ~4 min).
Run: ``bash scripts/bench.sh`` (``make bench``) or ``.venv/bin/python bench/efficiency_bench.py``.
Writes bench/results/efficiency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import channels_bench as cb  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "efficiency.json"
QUESTIONS = cb.PROCEDURES_ACCENTED + cb.PROCEDURES_UNACCENTED
# The growth conversation: each window of 5 consecutive turns holds each kind once.
CYCLE = ["question", "thanks", "question", "help", "payload"]
TF_VARS = ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS")


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of a process so far, in nanoseconds (0 when it is gone)."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total


def variant_files(name: str, tmp: Path) -> tuple[Path, Path, dict[str, str | None]]:
    """Endpoints file, credentials file and environment changes of a variant."""
    if name == "new":
        return ROOT / "endpoints.yml", ROOT / "credentials.yml", {}
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["tracker_store"].update(window_turns=0, speedups=False)
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    credentials["bot.rest_channel.BoundedRestInput"]["parse_payloads"] = False
    ep, cr = tmp / "endpoints-baseline.yml", tmp / "credentials-baseline.yml"
    ep.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    cr.write_text(yaml.safe_dump(credentials), encoding="utf-8")
    return ep, cr, dict.fromkeys(TF_VARS)


@contextlib.contextmanager
def stack(name: str, tmp: Path, channel_urls: dict[str, str]) -> Iterator[cb.Stack]:
    """Actions, Rasa and the gateway of one variant on free ports, over a private copy of var/."""
    data = tmp / f"data-{name}"
    cb.prepare_data_dir(ROOT / "var", data)
    endpoints, credentials, changes = variant_files(name, tmp)
    env = dict(cb.base_env(data), **cb.channel_env(channel_urls["telegram"], channel_urls["zalo"]))
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    procs: list[subprocess.Popen[bytes]] = []
    pids: dict[str, int] = {}
    act_port, rasa_port, gw_port = cb.free_port(), cb.free_port(), cb.free_port()
    rasa_url, gw_url = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{gw_port}"
    token = os.environ.setdefault("RASA_TOKEN", env.get("RASA_TOKEN") or os.urandom(16).hex())

    def launch(proc_name: str, cmd: list[str], extra: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (tmp / f"{name}-{proc_name}.log").open("ab")
        p = subprocess.Popen(cmd, cwd=ROOT, env=dict(env, **extra), stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(p)
        pids[proc_name] = p.pid
        return p

    try:
        actions = launch("actions", [str(ROOT / ".venv/bin/python"), "-m", "bot.action_server", "--host",
                                     "127.0.0.1", "--port", str(act_port)], {"OMP_NUM_THREADS": "1"})
        rasa = launch("rasa", [str(ROOT / ".venv-rasa/bin/rasa"), "run", "--enable-api", "--auth-token", token,
                               "-i", "127.0.0.1", "-p", str(rasa_port), "--model", "models/tthc.tar.gz",
                               "--endpoints", str(endpoints), "--credentials", str(credentials)],
                      {"ACTION_SERVER_URL": f"http://127.0.0.1:{act_port}/webhook"})
        gateway = launch("gateway", [str(ROOT / ".venv/bin/python"), "-m", "connectors"],
                         {"RASA_URL": rasa_url, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(gw_port)})
        cb.wait_http(gw_url + "/health", gateway, 90, "gateway")
        cb.wait_http(f"http://127.0.0.1:{act_port}/health", actions, 600, "actions")
        cb.wait_http(rasa_url + "/", rasa, 900, "rasa")
        yield cb.Stack(rasa_url, gw_url, pids, data, lambda: None, tmp)
    finally:
        cb.stop_processes(procs)


async def rest_turn(session: aiohttp.ClientSession, rasa_url: str, sender: str, text: str) -> tuple[float, list[Any]]:
    """One message to Rasa's REST webhook: latency in seconds and the answer."""
    t0 = time.perf_counter()
    async with session.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text,
                            "metadata": {"channel": "web"}}, timeout=aiohttp.ClientTimeout(total=60)) as r:
        body = await r.json(content_type=None)
    return time.perf_counter() - t0, body if isinstance(body, list) else []


def first_payload(answer: list[Any]) -> str | None:
    """The first button payload naming a procedure in Rasa's answer."""
    for message in answer:
        for button in (message.get("buttons") or []) if isinstance(message, dict) else []:
            if str(button.get("payload", "")).startswith("/ask_procedure{"):
                return str(button["payload"])
    return None


class Meter:
    """Per-message CPU of the stack's processes."""

    def __init__(self, pids: dict[str, int]) -> None:
        """Watch these processes."""
        self.pids = pids
        self.samples: dict[str, list[float]] = {}

    async def measure(self, coro: Any) -> Any:
        """Run one request; record each process's CPU milliseconds spent meanwhile."""
        before = {k: cpu_ns(p) for k, p in self.pids.items()}
        result = await coro
        await asyncio.sleep(0.05)  # let the gateway/Rasa finish the bookkeeping after the answer
        for k, p in self.pids.items():
            self.samples.setdefault(k, []).append((cpu_ns(p) - before[k]) / 1e6)
        return result


def stats(values: list[float]) -> dict[str, Any]:
    """n, mean, median and p95 (ms), rounded."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "mean": round(statistics.fmean(values), 1), "median": round(statistics.median(values), 1),
            "p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1)}


async def per_message(st: cb.Stack, n_questions: int) -> dict[str, Any]:
    """CPU per typed question and per button payload, one message at a time, 5 turns per sender."""
    pids = {k: v for k, v in st.pids.items() if k in ("rasa", "actions")}
    typed, buttons = Meter(pids), Meter(pids)
    latency: dict[str, list[float]] = {"typed": [], "payload": []}
    payloads: list[str] = []
    async with aiohttp.ClientSession() as s:
        for i in range(n_questions):
            sender = f"web:eff-q{i // 5}-{os.getpid()}"
            lat, answer = await typed.measure(rest_turn(s, st.rasa_url, sender, QUESTIONS[i % len(QUESTIONS)]))
            latency["typed"].append(lat * 1000)
            if (p := first_payload(answer)) is not None:
                payloads.append(p)
        for i, payload in enumerate(payloads[: max(5, n_questions // 3)]):
            lat, _ = await buttons.measure(rest_turn(s, st.rasa_url, f"web:eff-b{i}-{os.getpid()}", payload))
            latency["payload"].append(lat * 1000)
    return {
        "typed_question": {"cpu_ms": {k: stats(v) for k, v in typed.samples.items()},
                           "latency_ms": stats(latency["typed"])},
        "button_payload": {"cpu_ms": {k: stats(v) for k, v in buttons.samples.items()},
                           "latency_ms": stats(latency["payload"])},
    }


def growth_windows(turns: int) -> dict[str, tuple[int, int]]:
    """The measured windows of 5 turns: from turn 2, from turn 20, and the last 5."""
    return {"turn_2": (2, 6), "turn_20": (20, 24), "turn_last": (turns - 4, turns)}


def growth_text(n: int, turns: int, kind: str, texts: dict[str, list[str]]) -> str:
    """The message of turn ``n``: in a measured window the same text for the same kind and place, else rotating.

    Every window then holds the very same five messages, so the windows differ only in the history behind them.
    """
    pool = texts[kind]
    measured = any(a <= n <= b for a, b in growth_windows(turns).values())
    return pool[(n - 2) % len(CYCLE) % len(pool)] if measured else pool[n % len(pool)]


async def growth(st: cb.Stack, turns: int, conversations: int = 3) -> dict[str, Any]:
    """``conversations`` conversations of ``turns`` turns, interleaved turn by turn; CPU and latency by window.

    Each window's figure is the mean over its 5 turns of the per-turn median over the conversations (a
    garbage collection or a neighbour's burst in one conversation does not move it). A warm-up sender asks
    the windows' messages first, so no window pays for the action server's first encoding of a question.
    """
    pids = {k: v for k, v in st.pids.items() if k in ("rasa", "actions")}
    meters = [Meter(pids) for _ in range(conversations)]
    latency: list[list[float]] = [[] for _ in range(conversations)]
    texts = {"thanks": cb.THANKS, "help": cb.HELP, "question": QUESTIONS}
    payloads = ['/ask_procedure{"facet":"fee"}'] * conversations
    senders = [f"web:eff-growth{c}-{os.getpid()}" for c in range(conversations)]
    async with aiohttp.ClientSession() as s:
        for n in range(2, 2 + len(CYCLE)):
            kind = CYCLE[(n - 2) % len(CYCLE)]
            if kind != "payload":
                warm_text = growth_text(n, turns, kind, texts)
                await rest_turn(s, st.rasa_url, f"web:eff-warm-growth-{os.getpid()}", warm_text)
        for n in range(1, turns + 1):
            kind = CYCLE[(n - 2) % len(CYCLE)]
            for c in range(conversations):
                text = payloads[c] if kind == "payload" else growth_text(n, turns, kind, texts)
                lat, answer = await meters[c].measure(rest_turn(s, st.rasa_url, senders[c], text))
                latency[c].append(lat * 1000)
                payloads[c] = first_payload(answer) or payloads[c]

    def per_turn(values: list[list[float]]) -> list[float]:
        return [statistics.median(column) for column in zip(*values, strict=True)]

    series = {
        "rasa_cpu_ms": per_turn([m.samples["rasa"] for m in meters]),
        "rasa_plus_actions_cpu_ms": per_turn([[r + a for r, a in zip(m.samples["rasa"], m.samples["actions"],
                                                                      strict=True)] for m in meters]),
        "latency_ms": per_turn(latency),
    }
    out: dict[str, Any] = {"conversations": conversations}
    for label, (a, b) in growth_windows(turns).items():
        out[label] = {"turns": [a, b], **{k: round(statistics.fmean(v[a - 1:b]), 1) for k, v in series.items()}}
    out["last_over_turn_2"] = {k: round(out["turn_last"][k] / out["turn_2"][k], 2) if out["turn_2"][k] else None
                               for k in series}
    return out


async def load(st: cb.Stack, rec: cb.Recorder, args: argparse.Namespace) -> dict[str, Any]:
    """Webhook load phases (channels_bench users): chat-like, one message a second, no think time."""
    dossiers = cb.load_dossiers(st.data_dir or ROOT / "var", args.users)
    phase_args = argparse.Namespace(settle_ms=250.0, turn_timeout=30.0, max_seconds=args.max_seconds, dup_rate=0.0,
                                    seed=7, ramp_s=2.0)
    out: dict[str, Any] = {}
    for label, think in (("chat_like", (3.0, 8.0)), ("one_per_second", (0.5, 1.5)), ("no_think", (0.0, 0.0))):
        users = cb.make_users(["telegram", "zalo"], args.users, args.turns, dossiers, f"e{label[0]}")
        result = await cb.phase("webhooks", st, rec, users, phase_args, think)
        cpu = result["memory"]["cpu_seconds"]
        sent = max(1, result["messages_sent"])
        d = result["delivery"]
        out[label] = {
            "think_s": list(think), "users": args.users, "messages": result["messages_sent"],
            "latency_last_reply_ms": result["latency_last_reply"], "throughput_msgs_per_s":
            result["throughput_msgs_per_s"],
            "cpu_ms_per_message": {k: round(cpu[k] * 1000 / sent, 1) for k in ("rasa", "actions", "gateway")
                                   if k in cpu},
            "other_processes_cpu_s": cpu.get("other_processes"),
            "complete_turns": f"{d['turns_complete']}/{d['turns']}", "lost": d["lost"],
            "duplicated": d["duplicated"], "timeouts": result["turn_timeouts"],
        }
    return out


def run_variant(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Start one variant's stack, run every measurement, stop it."""
    rec = cb.Recorder()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fake_args = argparse.Namespace(fake_telegram_port=0, fake_zalo_port=0, stack="direct")
    t0 = time.perf_counter()
    try:
        with cb.serve_fakes(fake_args, rec, loop) as urls, stack(name, tmp, urls) as st:
            startup = round(time.perf_counter() - t0, 1)
            async def warm() -> None:
                async with aiohttp.ClientSession() as s:
                    for text in ("xin chào", "lam giay khai sinh can gi", "cảm ơn"):
                        await rest_turn(s, st.rasa_url, f"web:eff-warm-{name}", text)
            loop.run_until_complete(warm())
            result: dict[str, Any] = {"startup_s": startup}
            result["per_message"] = loop.run_until_complete(per_message(st, args.questions))
            result["growth"] = loop.run_until_complete(growth(st, args.growth_turns))
            result["load"] = loop.run_until_complete(load(st, rec, args))
            result["seconds"] = round(time.perf_counter() - t0, 1)
            return result
    finally:
        loop.close()


def ratio(new: float | None, old: float | None) -> float | None:
    """New / old, rounded; None when either is missing."""
    return round(new / old, 2) if new is not None and old else None


def compare(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The targets of issue 17 and the new / baseline ratios."""
    def typed_rasa(r: dict[str, Any]) -> float:
        return float(r["per_message"]["typed_question"]["cpu_ms"]["rasa"]["mean"])

    def p95(r: dict[str, Any], phase: str) -> float | None:
        return r["load"][phase]["latency_last_reply_ms"]["p95_ms"]

    def tput(r: dict[str, Any]) -> float | None:
        return r["load"]["no_think"]["throughput_msgs_per_s"]

    grow = new["growth"]["last_over_turn_2"]["rasa_plus_actions_cpu_ms"]
    return {
        "ratios_new_over_baseline": {
            "rasa_cpu_per_typed_question": ratio(typed_rasa(new), typed_rasa(base)),
            "rasa_cpu_per_button_payload": ratio(new["per_message"]["button_payload"]["cpu_ms"]["rasa"].get("mean"),
                                                 base["per_message"]["button_payload"]["cpu_ms"]["rasa"].get("mean")),
            "chat_like_p95": ratio(p95(new, "chat_like"), p95(base, "chat_like")),
            "one_per_second_p95": ratio(p95(new, "one_per_second"), p95(base, "one_per_second")),
            "throughput": ratio(tput(new), tput(base)),
            "last_turn_cpu": ratio(new["growth"]["turn_last"]["rasa_plus_actions_cpu_ms"],
                                   base["growth"]["turn_last"]["rasa_plus_actions_cpu_ms"]),
        },
        "targets": {
            "rasa_cpu_per_typed_question_le_30ms": typed_rasa(new) <= 30,
            "chat_like_p95_le_300ms": (p95(new, "chat_like") or 1e9) <= 300,
            "one_per_second_p95_le_1s": (p95(new, "one_per_second") or 1e9) <= 1000,
            "throughput_ge_3x_baseline": (ratio(tput(new), tput(base)) or 0) >= 3,
            "last_turn_within_20pct_of_turn_2": grow is not None and 0.8 <= grow <= 1.2,
        },
    }


def main() -> None:
    """Run the variants one after the other and write the results."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--variants", default="baseline,new", help="comma-separated: baseline, new")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--turns", type=int, default=10, help="messages per user in the load phases")
    p.add_argument("--questions", type=int, default=30, help="typed questions for CPU per message")
    p.add_argument("--growth-turns", type=int, default=101)
    p.add_argument("--max-seconds", type=float, default=120.0, help="time cap per load phase")
    p.add_argument("--quick", action="store_true", help="fewer turns: 5 per user, 15 questions, 51 growth turns")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    if args.quick:
        args.turns, args.questions, args.growth_turns, args.max_seconds = 5, 15, 51, 60.0
    args.growth_turns = max(30, args.growth_turns)
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tthc-efficiency-") as tmp:
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            print(f"== {name}", file=sys.stderr, flush=True)
            results[name] = run_variant(name, args, Path(tmp))
            print(json.dumps({name: {"per_message": results[name]["per_message"]["typed_question"],
                                     "growth": results[name]["growth"]["last_over_turn_2"],
                                     "load_p95": {k: v["latency_last_reply_ms"]["p95_ms"]
                                                  for k, v in results[name]["load"].items()}}},
                             ensure_ascii=False), file=sys.stderr, flush=True)
    out = {
        "benchmark": "efficiency_cost_per_message",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_avg_at_end": os.getloadavg()},
        "params": {k: v for k, v in vars(args).items() if k != "out"},
        "variants": {"baseline": "today's code: window_turns 0, speedups false, parse_payloads false",
                     "new": "endpoints.yml, credentials.yml and scripts/env.sh as they are"},
        "seconds": round(time.perf_counter() - t0, 1),
        **results,
    }
    if "baseline" in results and "new" in results:
        out["comparison"] = compare(results["baseline"], results["new"])
        print(json.dumps(out["comparison"], indent=1), flush=True)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
