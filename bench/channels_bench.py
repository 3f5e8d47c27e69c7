"""Load benchmark of the connectors gateway (web chat path) against a fake Rasa with fixed latency.

Runs on 127.0.0.1 only, with bounded users, messages and time. The gateway runs as a subprocess
(``python -m connectors``); the fake Rasa and the simulated users share this process. The same
users first call the fake Rasa directly, then go through the gateway, so the report gives the
gateway's overhead in the same run. Results: bench/results/channels.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "channels.json"


def free_port() -> int:
    """Pick a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_rasa(latency_s: float) -> web.Application:
    """A Rasa REST channel stand-in that answers after a fixed delay."""

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(latency_s)
        return web.json_response([{"recipient_id": body["sender"], "text": "Dạ, " + body["message"],
                                   "buttons": [{"title": "Hỏi thủ tục", "payload": "/ask_procedure"}]}])

    async def root(request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa")

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", hook)
    app.router.add_get("/", root)
    return app


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``, in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx] * 1000


async def run_load(url: str, body_of: Any, users: int, messages: int, max_s: float) -> dict[str, Any]:
    """N users, each sending up to M messages one after another; stops at ``max_s`` seconds."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + max_s
    connector = aiohttp.TCPConnector(limit=users + 4)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def user(i: int) -> None:
            nonlocal errors
            for j in range(messages):
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter()
                try:
                    async with session.post(url, json=body_of(i, j), timeout=aiohttp.ClientTimeout(total=30)) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(user(i) for i in range(users)))
        elapsed = time.perf_counter() - t0
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 3),
        "throughput_rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(pct(latencies, 0.5), 2), "p95_ms": round(pct(latencies, 0.95), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else float("nan"),
    }


async def wait_health(url: str, timeout: float = 30.0) -> None:
    """Wait until the gateway answers /health."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url + "/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("gateway did not start")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run both phases and write the results."""
    rasa_port, gw_port = free_port(), free_port()
    runner = web.AppRunner(fake_rasa(args.rasa_latency_ms / 1000), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", rasa_port).start()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    gw_url = f"http://127.0.0.1:{gw_port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
        env.update(GATEWAY_HOST="127.0.0.1", GATEWAY_PORT=str(gw_port), RASA_URL=rasa_url, TTHC_DATA_DIR=data_dir)
        proc = subprocess.Popen([sys.executable, "-m", "connectors"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await wait_health(gw_url)
            direct = await run_load(
                f"{rasa_url}/webhooks/rest/webhook",
                lambda i, j: {"sender": f"web:bench-user-{i:04d}", "message": f"câu hỏi {j}",
                              "metadata": {"channel": "web"}},
                args.users, args.messages, args.max_seconds,
            )
            gateway = await run_load(
                f"{gw_url}/api/chat",
                lambda i, j: {"sender": f"web:bench-user-{i:04d}", "message": f"câu hỏi {j}"},
                args.users, args.messages, args.max_seconds,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            await runner.cleanup()
    result = {
        "benchmark": "channels_web_chat",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {"users": args.users, "messages_per_user": args.messages,
                   "rasa_latency_ms": args.rasa_latency_ms, "max_seconds": args.max_seconds},
        "direct_rasa": direct,
        "via_gateway": gateway,
        "overhead": {
            "p50_ms": round(gateway["p50_ms"] - direct["p50_ms"], 2),
            "p95_ms": round(gateway["p95_ms"] - direct["p95_ms"], 2),
            "p50_ratio": round(gateway["p50_ms"] / direct["p50_ms"], 3) if direct["p50_ms"] else None,
            "p95_ratio": round(gateway["p95_ms"] / direct["p95_ms"], 3) if direct["p95_ms"] else None,
            "throughput_ratio": round(gateway["throughput_rps"] / direct["throughput_rps"], 3)
            if direct["throughput_rps"] else None,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, RESULTS)
    return result


def cli() -> None:
    """Parse arguments, run, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="messages per user")
    parser.add_argument("--rasa-latency-ms", type=float, default=50.0)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap per phase")
    args = parser.parse_args()
    args.users = max(1, min(args.users, 1000))
    args.messages = max(1, min(args.messages, 1000))
    result = asyncio.run(main(args))
    print(json.dumps({k: result[k] for k in ("direct_rasa", "via_gateway", "overhead")}, indent=2))


if __name__ == "__main__":
    cli()
