"""Fail-over and scale-out bench of the cluster (scripts/run_cluster.sh) on this machine, loopback only.

20 simulated users (half Telegram, half Zalo) post webhooks to nginx in front of the gateways; the
gateways' Telegram/Zalo API URLs point at fake APIs in this process that record every reply (the
fakes and the exactly-once accounting against Rasa's tracker are bench/channels_bench.py's). A
webhook answered with an error is re-delivered after a second, as Telegram and Zalo do.

Phases, on one cluster started with 2 replicas of each process: (1) steady load: throughput, p95
and CPU-seconds per message of every process; (2) the same load while one Rasa, then one action
server, then one gateway is killed with SIGKILL at different moments: lost and duplicated replies,
and how long the p95 (over a sliding 5 s window of turn latencies) takes to come back under 1.5x the
phase-1 p95; (3) the same load on the survivors, i.e. 1 replica of each.
Results: bench/results/cluster.json. Two cores cannot show linear scaling: every replica competes
for the same two CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels_bench import (  # noqa: E402
    Check,
    Load,
    Recorder,
    User,
    channel_env,
    check_user,
    cpu_seconds,
    fake_telegram,
    fake_zalo,
    load_dossiers,
    make_users,
    post_webhook,
    summary,
    wait_replies,
)

from tests.cluster.harness import Cluster  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cluster.json"
ROLES = ("rasa", "actions", "gateway", "notifier")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants (nginx workers, PostgreSQL backends)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(c) for c in task.read_text().split()]
        except OSError:
            continue
        total += sum(process_tree_cpu(c) for c in children)
    return total


def cluster_cpu(cluster: Cluster) -> dict[str, float]:
    """CPU seconds so far per process role (replicas summed), PostgreSQL, Redis and nginx."""
    out: dict[str, float] = {}
    for pidfile in (cluster.dir / "pids").glob("*.pid"):
        name = pidfile.stem.rstrip("0123456789")
        try:
            out[name] = out.get(name, 0.0) + process_tree_cpu(int(pidfile.read_text()))
        except (OSError, ValueError):
            continue
    postmaster = Path(cluster.env["CLUSTER_PG_DIR"]) / "data" / "postmaster.pid"
    if postmaster.exists():
        out["postgres"] = process_tree_cpu(int(postmaster.read_text().split()[0]))
    return out


async def run_user(load: Load, user: User, latencies: list[tuple[float, float]], t0: float) -> None:
    """Send the script turn by turn; an error answer is re-delivered after 1 s (as the platforms do)."""
    for n, turn in enumerate(user.turns):
        if time.monotonic() > load.deadline:
            return
        before = load.rec.count(user.sender)
        turn.sent_at = time.perf_counter()
        turn.status, again = await post_webhook(load, user, turn.text, n)
        for _ in range(30):
            if turn.status == 200:
                break
            load.duplicates_sent += 1
            await asyncio.sleep(1.0)
            turn.status = await again()
        if turn.status == 200:
            await wait_replies(load, user.sender, before)
            if load.rec.count(user.sender) > before:
                latencies.append((turn.sent_at - t0, load.rec.arrivals[user.sender][-1].at - turn.sent_at))
        await asyncio.sleep(load.rng.uniform(*load.think_s))


async def load_phase(cluster: Cluster, rec: Recorder, users: list[User], seconds: float,
                     kills: list[tuple[float, str]]) -> dict[str, Any]:
    """Run the users against the cluster (killing ``kills`` at their offsets) and account for every reply."""
    front, rasa = cluster.url("front"), f"http://127.0.0.1:{cluster.base + 1}"
    latencies: list[tuple[float, float]] = []
    killed: list[dict[str, Any]] = []
    cpu0 = cluster_cpu(cluster)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        load = Load(session, rec, front, rasa, 0.6, (0.2, 0.6), 60.0, time.monotonic() + seconds, 0.0,
                    random.Random(7))
        t0 = time.perf_counter()

        async def killer() -> None:
            for at, name in kills:
                await asyncio.sleep(max(0.0, t0 + at - time.perf_counter()))
                cluster.kill(name)
                killed.append({"process": name, "at_s": round(time.perf_counter() - t0, 1)})

        async def one(u: User) -> None:
            await asyncio.sleep(load.rng.uniform(0, 2.0))
            await run_user(load, u, latencies, t0)

        await asyncio.gather(killer(), *(one(u) for u in users))
        await asyncio.sleep(2.0)  # replies still in the outbox
        wall = max(rec.last_at, t0) - t0
        cpu1 = cluster_cpu(cluster)
        check = Check()
        for u in users:
            await check_user(session, rasa, rec, u, check)
    turns = [t for u in users for t in u.turns if t.sent_at]
    result: dict[str, Any] = {
        "users": len(users), "messages": len(turns), "seconds": round(wall, 1),
        "throughput_msgs_per_s": round(len(turns) / wall, 2) if wall else None,
        "latency_last_reply": summary([lat for _, lat in latencies]),
        "delivery": {"turns": check.turns, "turns_complete": check.turns_complete, "lost": check.lost,
                     "duplicated": check.duplicated, "unexpected": check.unexpected,
                     "busy_replies": check.busy_replies, "lost_in_senders_with_busy": check.lost_in_senders_with_busy,
                     "rasa_handled_twice": check.rasa_twice,
                     "webhooks_redelivered_after_an_error": load.duplicates_sent, "turn_timeouts": load.timeouts},
        # None for a role whose replica was killed in the phase: its CPU time left with it.
        "cpu_seconds_per_message": {k: round((cpu1[k] - v) / max(1, len(turns)), 4) if cpu1.get(k, -1) >= v else None
                                    for k, v in sorted(cpu0.items())},
    }
    if kills:
        result["killed"] = killed
        result["latencies"] = [(round(at, 2), round(lat, 3)) for at, lat in sorted(latencies)]
    return result


def recovery(latencies: list[tuple[float, float]], killed_at: float, p95_ok_s: float, window_s: float = 5.0) -> Any:
    """Seconds after a kill until the p95 of turns sent in a sliding window is back under ``p95_ok_s``."""
    after = [(at, lat) for at, lat in latencies if at >= killed_at]
    for start, _ in after:
        window = sorted(lat for at, lat in after if start <= at < start + window_s)
        if len(window) >= 3 and window[min(len(window) - 1, round(0.95 * (len(window) - 1)))] <= p95_ok_s:
            return round(start - killed_at, 1)
    return None


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve a fake on a free loopback port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """The three phases; the clusters are started and stopped here."""
    rec = Recorder()
    tg_runner, tg_url = await serve(fake_telegram(rec))
    zalo_runner, zalo_url = await serve(fake_zalo(rec))
    env = {**channel_env(tg_url, zalo_url), "CLUSTER_LEASE_S": "6", "NOTIFIER_INTERVAL_S": "3600"}
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                       "load_average_at_start": os.getloadavg()[0]}}
    cluster = Cluster(replicas=2, extra_env=env)
    try:
        out["startup_s"] = round(await asyncio.to_thread(cluster.start), 1)
        os.environ["RASA_TOKEN"] = cluster.token
        dossiers = load_dossiers(cluster.data, args.users)
        users = make_users(["telegram", "zalo"], args.users, 500, dossiers, "two")
        out["replicas_2"] = await load_phase(cluster, rec, users, args.steady_seconds, [])
        users = make_users(["telegram", "zalo"], args.users, 500, dossiers, "kill")
        kills = [(args.kill_at[0], "rasa0"), (args.kill_at[1], "actions0"), (args.kill_at[2], "gateway0")]
        failover = await load_phase(cluster, rec, users, args.failover_seconds, kills)
        ok = (out["replicas_2"]["latency_last_reply"]["p95_ms"] or 0) / 1000 * 1.5
        failover["p95_recovery_s"] = {k["process"]: recovery(failover["latencies"], k["at_s"], ok)
                                      for k in failover["killed"]}
        failover["p95_ok_threshold_ms"] = round(ok * 1000, 1)
        out["failover_2_replicas"] = failover
        # The survivors are one replica of each: the same load measures 1 replica (nginx skips the dead ones).
        users = make_users(["telegram", "zalo"], args.users, 500, dossiers, "one")
        out["replicas_1"] = await load_phase(cluster, rec, users, args.steady_seconds, [])
        out["replicas_1"]["note"] = "the survivors of the fail-over phase: rasa1, actions1, gateway1 (+2 notifiers)"
    finally:
        await asyncio.to_thread(cluster.stop)
        await tg_runner.cleanup()
        await zalo_runner.cleanup()
    one, two = out.get("replicas_1", {}), out.get("replicas_2", {})
    if one.get("throughput_msgs_per_s") and two.get("throughput_msgs_per_s") and \
            one["latency_last_reply"]["p95_ms"] and two["latency_last_reply"]["p95_ms"]:
        out["scaling_2_vs_1"] = {
            "throughput_ratio": round(two["throughput_msgs_per_s"] / one["throughput_msgs_per_s"], 2),
            "p95_ratio": round(two["latency_last_reply"]["p95_ms"] / one["latency_last_reply"]["p95_ms"], 2),
            "note": "2 cores: the replicas share the same CPUs, so no linear scaling can show here",
        }
    if two:
        out["projection_province_2m"] = projection(two["cpu_seconds_per_message"])
    return out


def projection(cpu_per_message: dict[str, float | None]) -> dict[str, Any]:
    """On paper: cores a province of 2 million people needs at peak, from the measured CPU per message."""
    # Assumptions (stated, not measured): 5% of residents use the bot in a month, 8 messages each,
    # over 22 working days of 9 hours; the peak hour carries 3x the average hour.
    messages_per_month = 2_000_000 * 0.05 * 8
    peak_per_s = messages_per_month / (22 * 9 * 3600) * 3
    cores = {role: round(peak_per_s * (cpu or 0.0), 3) for role, cpu in cpu_per_message.items()}
    return {"assumptions": "2,000,000 residents, 5% monthly users x 8 messages, 22 days x 9 h, peak hour 3x average",
            "peak_messages_per_s": round(peak_per_s, 2), "cores_busy_at_peak_by_role": cores,
            "cores_busy_at_peak_total": round(sum(cores.values()), 2)}


def cli() -> None:
    """Parse arguments, run, write bench/results/cluster.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--steady-seconds", type=float, default=40.0, help="length of the 1- and 2-replica phases")
    parser.add_argument("--failover-seconds", type=float, default=75.0, help="length of the fail-over phase")
    parser.add_argument("--kill-at", type=float, nargs=3, default=[15.0, 35.0, 55.0],
                        help="seconds into the fail-over phase at which rasa0, actions0, gateway0 are killed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "failover_2_replicas"}, ensure_ascii=False, indent=2))
    print(json.dumps({k: v for k, v in result.get("failover_2_replicas", {}).items() if k != "latencies"},
                     ensure_ascii=False, indent=2))


if __name__ == "__main__":
    cli()
