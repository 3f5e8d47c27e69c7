"""Load benchmark of the Telegram and Zalo webhooks through the whole stack (Rasa + actions + gateway).

Simulated users post Telegram updates (with the secret header) and Zalo ``user_send_text`` events
(with a valid ``X-ZEvent-Signature``) to the gateway; the gateway's Telegram/Zalo API base URLs point
at fake API servers in this process, which record every reply with its arrival time. End-to-end
latency runs from the webhook request to the fake API receiving the turn's last (and first) reply.
Exactly-once delivery is checked against Rasa's own record: after the run each sender's tracker is
read back, each user turn's bot messages are rendered into the API calls the channel must make, and
the recorded calls are compared with them (lost, duplicated, unexpected). A baseline in the same run
sends the same scripted conversations straight to Rasa's REST webhook, so the gateway's overhead is
reported as a ratio. Peak RSS of rasa, the action server and the gateway comes from /proc.

Loopback only; users, turns and time are bounded. Results: bench/results/channels.json.
The stack is started by ``scripts/run.sh`` (default ports) with a temporary copy of the data
(``--stack run-sh``), by this script on free ports (``--stack direct``), or is already running
(``--stack running``). ``--stack fake`` replaces Rasa with a tiny fake, for developing this script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.messages import BotMessage, parse_messages, split_text, utf16_len  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "channels.json"
TG_TOKEN = os.environ.get("BENCH_TELEGRAM_TOKEN", "123456:BENCH-token")
TG_SECRET = os.environ.get("BENCH_TELEGRAM_SECRET", "bench_Secret-123")
ZALO_APP_ID = os.environ.get("BENCH_ZALO_APP_ID", "1234567890")
ZALO_APP_SECRET = os.environ.get("BENCH_ZALO_APP_SECRET", "bench-app-secret")
ZALO_OA_KEY = os.environ.get("BENCH_ZALO_OA_SECRET_KEY", "bench-oa-secret-key")
ZALO_ACCESS = "BENCH-AT0"
# Must match connectors/channels/telegram.py and connectors/channels/zalo.py (what the channels render).
TG_LIMIT, ZALO_LIMIT, ZALO_MAX_BUTTONS = 4096, 2000, 5
TG_BUTTONS_PROMPT = ZALO_BUTTONS_PROMPT = "Anh/chị chọn một mục bên dưới:"
ZALO_MORE_BUTTONS = "Các lựa chọn khác:"
DOSSIER_FOUND_MARK = "• Tình trạng:"
DEFAULT_DOSSIERS = [("000.00.20.H57-240101-0001", "6789")]
PROCESSES = ("rasa", "actions", "gateway")
CHAT_IDS = itertools.count(7_000_000_000 + int(time.time()) % 100_000 * 1000)
UPDATE_IDS = itertools.count(int(time.time()) % 1_000_000 * 1000)  # unique across phases and runs

# Scripted turns: (kind, variants). Variants are picked per user; {code}/{digits} come from onestop.db.
GREETINGS = ["xin chào", "chào bạn", "chao ad", "alo, cho mình hỏi chút", "chào em"]
PROCEDURES_ACCENTED = [
    "thủ tục đăng ký khai sinh cho con cần những giấy tờ gì",
    "đăng ký kết hôn cần mang theo gì",
    "cấp đổi căn cước công dân phí bao nhiêu",
    "đăng ký thường trú cần những gì",
    "xin giấy xác nhận tình trạng hôn nhân ở đâu",
    "người nhà mất thì đăng ký khai tử trong bao nhiêu ngày",
    "đăng ký tạm trú cho sinh viên thuê trọ thế nào",
]
PROCEDURES_UNACCENTED = [
    "lam giay khai sinh can gi",
    "dang ky ket hon o dau vay ad",
    "khai tu can giay to gi",
    "lam cccd cho con 14 tuoi",
    "xin giay xac nhan doc than de lam ho so vay von",
    "chuyen ho khau ve que thi lam the nao",
    "trich luc ket hon lam o dau",
]
DOSSIER_ASKS = ["tra cứu hồ sơ {code}", "kiem tra ho so {code} giup em", "hồ sơ mã {code} của tôi đang ở bước nào"]
DIGITS = ["{digits}", "4 số cuối là {digits}", "so cuoi {digits}"]
THANKS = ["cảm ơn em", "cam on nhe", "ok cảm ơn"]
HELP = ["bạn giúp được gì", "em la nguoi hay may vay", "bạn là ai"]
BYES = ["tạm biệt", "bye ad", "chào nhé, cảm ơn"]
SCRIPT: list[tuple[str, list[str]]] = [
    ("greet", GREETINGS),
    ("procedure_accented", PROCEDURES_ACCENTED),
    ("procedure_unaccented", PROCEDURES_UNACCENTED),
    ("dossier_code", DOSSIER_ASKS),
    ("dossier_digits", DIGITS),
    ("thanks", THANKS),
    ("procedure_accented", PROCEDURES_ACCENTED),
    ("procedure_unaccented", PROCEDURES_UNACCENTED),
    ("help", HELP),
    ("goodbye", BYES),
]


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    """Pick a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1, nearest rank) of ``values`` given in seconds, in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return None
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[idx] * 1000, 1)


def summary(values: list[float]) -> dict[str, Any]:
    """Count, p50/p95/p99, mean and max in milliseconds."""
    return {
        "n": len(values), "p50_ms": pct(values, 0.5), "p95_ms": pct(values, 0.95), "p99_ms": pct(values, 0.99),
        "mean_ms": round(sum(values) / len(values) * 1000, 1) if values else None,
        "max_ms": round(max(values) * 1000, 1) if values else None,
    }


def zalo_signature(raw: bytes, timestamp: str) -> str:
    """The documented MAC: sha256_hex(app_id + raw body + timestamp + OA secret key)."""
    return "mac=" + hashlib.sha256(ZALO_APP_ID.encode() + raw + timestamp.encode() + ZALO_OA_KEY.encode()).hexdigest()


def read_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB (empty when it is gone)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds used by one process (utime + stime), or by the whole machine (busy time) when pid is None."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        if pid is None:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            values = [int(x) for x in fields]
            return (sum(values[:8]) - values[3] - values[4]) / tick  # minus idle and iowait
        stat = Path(f"/proc/{pid}/stat").read_text()
        rest = stat[stat.rindex(")") + 2:].split()
        return (int(rest[11]) + int(rest[12])) / tick
    except (OSError, ValueError, IndexError):
        return 0.0


def find_pids() -> dict[str, int]:
    """Find a running stack's processes by their command lines (for ``--stack running``)."""
    found: dict[str, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if " run --enable-api" in cmd and "rasa" in cmd:
            found.setdefault("rasa", int(proc.name))
        elif "-m bot.action_server" in cmd:
            found.setdefault("actions", int(proc.name))
        elif cmd.rstrip().endswith("-m connectors"):
            found.setdefault("gateway", int(proc.name))
    return found


# ------------------------------------------------------------------------------------------------
# Fake channel APIs (and a fake Rasa for developing this script)
# ------------------------------------------------------------------------------------------------
@dataclass
class Arrival:
    """One API call the gateway made on behalf of a recipient."""

    key: str
    at: float


@dataclass
class Recorder:
    """Every reply the fake APIs received, per namespaced recipient, in arrival order."""

    arrivals: dict[str, list[Arrival]] = field(default_factory=dict)
    events: dict[str, asyncio.Event] = field(default_factory=dict)
    other_calls: Counter[str] = field(default_factory=Counter)
    bad_calls: int = 0

    def add(self, recipient: str, key: str) -> None:
        """Record one reply and wake whoever waits for this recipient."""
        self.arrivals.setdefault(recipient, []).append(Arrival(key, time.perf_counter()))
        self.event(recipient).set()

    def event(self, recipient: str) -> asyncio.Event:
        """The per-recipient wake-up event."""
        return self.events.setdefault(recipient, asyncio.Event())

    def count(self, recipient: str) -> int:
        """Replies received so far for a recipient."""
        return len(self.arrivals.get(recipient, []))

    @property
    def last_at(self) -> float:
        """Arrival time of the latest reply (0 when none)."""
        return max((a[-1].at for a in self.arrivals.values() if a), default=0.0)


def fake_telegram(rec: Recorder) -> web.Application:
    """Telegram Bot API at /bot<token>/<method> that records sendMessage/sendPhoto."""

    async def method(request: web.Request) -> web.Response:
        if request.match_info["token"] != TG_TOKEN:
            rec.bad_calls += 1
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        name = request.match_info["method"]
        if request.content_type == "application/json":
            data = await request.json()
        else:
            data = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        result: Any = True
        if name == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "TTHC", "username": "tthc_bench_bot"}
        elif name in ("sendMessage", "sendPhoto"):
            chat = str(data.get("chat_id"))
            key = "text:" + str(data.get("text", "")) if name == "sendMessage" else "image:" + str(data.get("photo"))
            rec.add(f"tg:{chat}", key)
            result = {"message_id": 1, "date": int(time.time()), "chat": {"id": int(chat), "type": "private"},
                      "text": data.get("text", "")}
        else:
            rec.other_calls[name] += 1
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    return app


def fake_zalo(rec: Recorder) -> web.Application:
    """Zalo OA API v3 /v3.0/oa/message/cs (records replies) and OAuth v4 (rotating tokens)."""
    state: dict[str, Any] = {"access": ZALO_ACCESS, "n": 0}

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("access_token") != state["access"]:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        msg = body.get("message", {})
        payload = (msg.get("attachment") or {}).get("payload") or {}
        if payload.get("template_type") == "media":
            key = "image:" + str(payload["elements"][0].get("url"))
        else:
            key = "text:" + str(msg.get("text", ""))
        rec.add(f"zalo:{body['recipient']['user_id']}", key)
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": "1"}})

    async def oauth(request: web.Request) -> web.Response:
        rec.other_calls["zalo_oauth"] += 1
        state["n"] = int(state["n"]) + 1
        state["access"] = f"BENCH-AT{state['n']}"
        return web.json_response({"access_token": state["access"], "refresh_token": f"BENCH-RT{state['n']}",
                                  "expires_in": "90000"})

    app = web.Application()
    app.router.add_post("/v3.0/oa/message/cs", send)
    app.router.add_post("/v4/oa/access_token", oauth)
    return app


def fake_rasa(latency_s: float) -> web.Application:
    """A Rasa stand-in (REST webhook + tracker API) answering after a delay; for developing this script."""
    trackers: dict[str, list[dict[str, Any]]] = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(latency_s)
        text = str(body["message"])
        answer = [{"recipient_id": body["sender"], "text": "Dạ, " + text}]
        if "ho so" in text or "hồ sơ" in text:
            answer.append({"recipient_id": body["sender"], "text": "Anh/chị cho em 4 số cuối.",
                           "buttons": [{"title": "Gặp tổng đài viên", "payload": "/request_human"}]})
        events = trackers.setdefault(body["sender"], [])
        events.append({"event": "user", "text": text})
        events += [{"event": "bot", "text": a["text"], "data": {"buttons": a.get("buttons")}} for a in answer]
        return web.json_response(answer)

    async def tracker(request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        return web.json_response({"sender_id": sender, "events": trackers.get(sender, [])})

    async def root(request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: fake")

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", hook)
    app.router.add_get("/conversations/{sender}/tracker", tracker)
    app.router.add_get("/", root)
    return app


# ------------------------------------------------------------------------------------------------
# The stack
# ------------------------------------------------------------------------------------------------
def copy_sqlite(src: Path, dst: Path) -> None:
    """Consistent copy of a (possibly WAL-mode) SQLite database."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dst) as d:
        s.backup(d)


def prepare_data_dir(src: Path, dst: Path) -> None:
    """A private data dir: copies of catalogue, one-stop DB and index, the models symlinked."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("catalogue.db", "onestop.db"):
        if (src / name).exists():
            copy_sqlite(src / name, dst / name)
    for name in (".hash_key", ".seed-import.stamp"):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    for name in ("index", "voice"):
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name, ignore=shutil.ignore_patterns("*.lock"))
    if (src / "models").is_dir():
        (dst / "models").symlink_to((src / "models").resolve(), target_is_directory=True)


def load_dossiers(data_dir: Path, n: int) -> list[tuple[str, str]]:
    """Dossier codes and their verification digits (last 4 of the applicant's phone) from onestop.db."""
    path = data_dir / "onestop.db"
    if not path.exists():
        return DEFAULT_DOSSIERS
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT code, applicant_phone FROM dossiers WHERE length(applicant_phone) >= 4 ORDER BY code LIMIT ?", (n,)
        ).fetchall()
    return [(code, re.sub(r"\D", "", phone)[-4:]) for code, phone in rows] or DEFAULT_DOSSIERS


@dataclass
class Stack:
    """URLs of the services and the pids whose memory is reported."""

    rasa_url: str
    gateway_url: str
    pids: dict[str, int]
    data_dir: Path | None
    stop: Callable[[], None]
    log: Path | None = None


def channel_env(tg_url: str, zalo_url: str) -> dict[str, str]:
    """Gateway settings pointing the Telegram/Zalo clients at the fakes, with test credentials."""
    return {
        "TELEGRAM_TOKEN": TG_TOKEN, "TELEGRAM_SECRET": TG_SECRET, "TELEGRAM_API_URL": f"{tg_url}/bot",
        "ZALO_APP_ID": ZALO_APP_ID, "ZALO_APP_SECRET": ZALO_APP_SECRET, "ZALO_OA_SECRET_KEY": ZALO_OA_KEY,
        "ZALO_ACCESS_TOKEN": ZALO_ACCESS, "ZALO_REFRESH_TOKEN": "BENCH-RT0", "ZALO_API_URL": zalo_url,
        "ZALO_OAUTH_URL": f"{zalo_url}/v4/oa/access_token", "OUTBOX_RETRY_BASE_S": "0.2",
    }


def base_env(data_dir: Path) -> dict[str, str]:
    """The environment scripts/env.sh would give, with a private data dir and tracker store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env.update(
        TTHC_DATA_DIR=str(data_dir), TRACKER_STORE_URL=f"sqlite:///{data_dir / 'tracker.db'}",
        RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore::DeprecationWarning", PYTHONPATH=str(ROOT), NOTIFIER_INTERVAL_S="3600",
        # The bench's paced users send one message a second: above a citizen's flood limit on purpose.
        GATEWAY_SENDER_MAX_PER_MINUTE="1000", GATEWAY_SENDER_MAX_QUEUED="1000",
    )
    return env


def stop_processes(procs: list[subprocess.Popen[bytes]], grace_s: float = 30.0) -> None:
    """SIGTERM each started process, wait, then SIGKILL what is left (by pid only)."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, name: str) -> None:
    """Block until ``url`` answers below 500 (or fail if ``proc`` died)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                if r.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")


def start_direct(data_dir: Path, env: dict[str, str], log_dir: Path, rasa_url: str | None) -> Stack:
    """Start actions, Rasa (unless ``rasa_url`` is a fake) and the gateway on free ports."""
    procs: list[subprocess.Popen[bytes]] = []
    pids: dict[str, int] = {}
    gw_port = free_port()
    env = dict(env, GATEWAY_HOST="127.0.0.1", GATEWAY_PORT=str(gw_port))

    def launch(name: str, cmd: list[str], extra: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (log_dir / f"{name}.log").open("ab")
        p = subprocess.Popen(cmd, cwd=ROOT, env=dict(env, **extra), stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(p)
        pids[name] = p.pid
        return p

    try:
        if rasa_url is None:
            act_port, rasa_port = free_port(), free_port()
            rasa_url = f"http://127.0.0.1:{rasa_port}"
            actions = launch("actions", [str(ROOT / ".venv/bin/python"), "-m", "bot.action_server", "--host",
                                         "127.0.0.1", "--port", str(act_port)], {"OMP_NUM_THREADS": "1"})
            token = os.environ.setdefault("RASA_TOKEN", env.get("RASA_TOKEN") or secrets.token_hex(16))
            rasa = launch("rasa", [str(ROOT / ".venv-rasa/bin/rasa"), "run", "--enable-api", "--auth-token", token,
                                   "-i", "127.0.0.1", "-p", str(rasa_port), "--model", "models/tthc.tar.gz",
                                   "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"],
                          {"ACTION_SERVER_URL": f"http://127.0.0.1:{act_port}/webhook"})
        gateway = launch("gateway", [sys.executable, "-m", "connectors"], {"RASA_URL": rasa_url})
        gw_url = f"http://127.0.0.1:{gw_port}"
        wait_http(gw_url + "/health", gateway, 60, "gateway")
        if "actions" in pids:
            wait_http(f"http://127.0.0.1:{act_port}/health", actions, 300, "actions")
            wait_http(rasa_url + "/", rasa, 400, "rasa")
    except BaseException:
        stop_processes(procs)
        raise
    return Stack(rasa_url, gw_url, pids, data_dir, lambda: stop_processes(procs), log_dir)


def start_run_sh(data_dir: Path, env: dict[str, str], log: Path) -> Stack:
    """``bash scripts/run.sh`` with the bench environment; pids parsed from its output."""
    out = log.open("ab")
    env = dict(env, RASA_TOKEN=os.environ.setdefault("RASA_TOKEN", env.get("RASA_TOKEN") or secrets.token_hex(16)))
    proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    started: dict[str, int] = {}

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # run.sh stops all its children on TERM
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for pid in started.values():  # children run in their own sessions: make sure they are gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        out.close()

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for name, pid in re.findall(r"\[run\] (\w+) started \(pid (\d+)", text):
            started[name] = int(pid)
        if "all up" in text:
            break
        if proc.poll() is not None:
            stop()
            raise RuntimeError(f"scripts/run.sh exited {proc.returncode}; see {log}")
        time.sleep(1)
    else:
        stop()
        raise RuntimeError(f"stack did not come up in 600 s; see {log}")
    pids = {k: v for k, v in started.items() if k in PROCESSES}
    return Stack(env.get("RASA_URL", "http://127.0.0.1:5005"), env.get("GATEWAY_URL", "http://127.0.0.1:8080"),
                 pids, data_dir, stop, log)


class MemorySampler:
    """Samples VmRSS of the stack's processes every half second; VmHWM read at the end."""

    def __init__(self, pids: dict[str, int]) -> None:
        """Watch ``pids`` (name → pid)."""
        self.pids = pids
        self.peak_rss: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._cpu0: dict[str, float] = {}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the machine, each stack process and this benchmark process."""
        out = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        out["bench"] = cpu_seconds(os.getpid())
        out["machine"] = cpu_seconds()
        return out

    def sample(self) -> None:
        """Take one sample."""
        for name, pid in self.pids.items():
            rss = read_status(pid).get("VmRSS", 0)
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        """Start sampling in the background."""
        self._cpu0 = self.cpu()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, Any]:
        """Stop and report per process: peak sampled RSS during the load, and VmHWM (lifetime peak)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.sample()
        cpu1 = self.cpu()
        used = {k: round(cpu1[k] - self._cpu0.get(k, 0.0), 1) for k in cpu1}
        used["other_processes"] = round(used["machine"] - sum(v for k, v in used.items() if k != "machine"), 1)
        out: dict[str, Any] = {"cpu_seconds": used}
        for name, pid in self.pids.items():
            status = read_status(pid)
            out[name] = {"pid": pid, "peak_rss_during_load_mb": round(self.peak_rss.get(name, 0) / 1024, 1),
                         "vm_hwm_mb": round(status.get("VmHWM", 0) / 1024, 1) if status else None}
        return out


# ------------------------------------------------------------------------------------------------
# Simulated users
# ------------------------------------------------------------------------------------------------
@dataclass
class Turn:
    """One scripted user message and what happened to it."""

    kind: str
    text: str
    sent_at: float = 0.0
    ack_s: float | None = None
    status: int = 0
    rest_replies: int | None = None
    rest_texts: list[str] = field(default_factory=list)


@dataclass
class User:
    """A simulated citizen with a scripted conversation."""

    channel: str  # telegram | zalo | rest
    ident: str
    turns: list[Turn]

    @property
    def sender(self) -> str:
        """The namespaced sender id the gateway gives Rasa (and the recipient key of the fakes)."""
        return {"telegram": "tg:", "zalo": "zalo:", "rest": "web:"}[self.channel] + self.ident


def make_script(i: int, dossier: tuple[str, str], turns: int, channel: str) -> list[Turn]:
    """The i-th user's conversation: a rotation through the scripted kinds and their variants."""
    out: list[Turn] = []
    code, digits = dossier
    for j in range(turns):
        kind, variants = SCRIPT[j % len(SCRIPT)]
        text = variants[(i + j) % len(variants)].format(code=code, digits=digits)
        if kind == "greet" and channel == "telegram" and i % 2 == 0:
            text = "/start"
        out.append(Turn(kind, text))
    return out


@dataclass
class Load:
    """Shared state of one load phase."""

    session: aiohttp.ClientSession
    rec: Recorder
    gateway_url: str
    rasa_url: str
    settle_s: float
    think_s: tuple[float, float]
    turn_timeout_s: float
    deadline: float
    dup_rate: float
    rng: random.Random
    duplicates_sent: int = 0
    duplicate_acks: Counter[int] = field(default_factory=Counter)
    timeouts: int = 0


async def post_webhook(load: Load, user: User, text: str, msg_no: int) -> tuple[int, Callable[[], Awaitable[int]]]:
    """Post one user message to the gateway; returns the status and a re-delivery of the same request."""
    if user.channel == "telegram":
        chat = int(user.ident)
        update: dict[str, Any] = {"update_id": next(UPDATE_IDS), "message": {
            "message_id": msg_no, "date": int(time.time()), "text": text,
            "from": {"id": chat, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
            "chat": {"id": chat, "first_name": "Lan", "type": "private"}}}
        if text.startswith("/"):
            update["message"]["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        raw = json.dumps(update, ensure_ascii=False).encode()
        url, headers = f"{load.gateway_url}/telegram/webhook", {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    else:
        ts = str(int(time.time() * 1000))
        event = {"app_id": ZALO_APP_ID, "user_id_by_app": "55" + user.ident, "event_name": "user_send_text",
                 "timestamp": ts, "sender": {"id": user.ident}, "recipient": {"id": "579745863508352884"},
                 "message": {"msg_id": hashlib.md5(f"{user.ident}:{msg_no}".encode()).hexdigest()[:20], "text": text}}
        raw = json.dumps(event, ensure_ascii=False).encode()
        url, headers = f"{load.gateway_url}/zalo/webhook", {"X-ZEvent-Signature": zalo_signature(raw, ts)}
    headers["Content-Type"] = "application/json"

    async def send() -> int:
        try:
            async with load.session.post(url, data=raw, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=30)) as r:
                await r.read()
                return r.status
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return 0

    return await send(), send


async def wait_replies(load: Load, recipient: str, before: int) -> None:
    """Wait until the turn's replies arrived: at least one, then ``settle_s`` without another."""
    event = load.rec.event(recipient)
    end = time.perf_counter() + load.turn_timeout_s
    while load.rec.count(recipient) <= before:
        event.clear()
        if load.rec.count(recipient) > before:
            break
        left = end - time.perf_counter()
        if left <= 0:
            load.timeouts += 1
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=left)
    while True:
        event.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=load.settle_s)
            continue
        return


async def run_webhook_user(load: Load, user: User) -> None:
    """Send the script turn by turn, waiting for each turn's replies at the fake API."""
    for n, turn in enumerate(user.turns):
        if time.monotonic() > load.deadline:
            return
        before = load.rec.count(user.sender)
        turn.sent_at = time.perf_counter()
        turn.status, again = await post_webhook(load, user, turn.text, n)
        turn.ack_s = time.perf_counter() - turn.sent_at
        if turn.status == 200 and load.rng.random() < load.dup_rate:
            load.duplicates_sent += 1  # the platform re-delivers the same update/event
            load.duplicate_acks[await again()] += 1
        if turn.status == 200:
            await wait_replies(load, user.sender, before)
        await asyncio.sleep(load.rng.uniform(*load.think_s))


async def run_rest_user(load: Load, user: User) -> None:
    """The baseline: the same script straight to Rasa's REST webhook."""
    for turn in user.turns:
        if time.monotonic() > load.deadline:
            return
        turn.sent_at = time.perf_counter()
        body = {"sender": user.sender, "message": turn.text, "metadata": {"channel": "web"}}
        try:
            async with load.session.post(f"{load.rasa_url}/webhooks/rest/webhook", json=body,
                                         timeout=aiohttp.ClientTimeout(total=60)) as r:
                data = await r.json(content_type=None)
                turn.status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            data, turn.status = None, 0
        turn.ack_s = time.perf_counter() - turn.sent_at
        if turn.status == 200 and isinstance(data, list):
            turn.rest_replies = len(data)
            turn.rest_texts = [str(m.get("text", "")) for m in data if isinstance(m, dict)]
        await asyncio.sleep(load.rng.uniform(*load.think_s))


# ------------------------------------------------------------------------------------------------
# Exactly-once check against Rasa's tracker
# ------------------------------------------------------------------------------------------------
def expected_calls(channel: str, messages: list[BotMessage]) -> list[str]:
    """The API calls (keys as recorded by the fakes) a channel makes for Rasa's messages of one turn."""
    keys: list[str] = []
    for m in messages:
        if m.image:
            keys.append("image:" + m.image)
        if channel == "telegram":
            chunks = split_text(m.text, TG_LIMIT, utf16_len) or ([TG_BUTTONS_PROMPT] if m.buttons else [])
            keys += ["text:" + c for c in chunks]
        else:
            chunks = split_text(m.text, ZALO_LIMIT) or ([ZALO_BUTTONS_PROMPT] if m.buttons else [])
            keys += ["text:" + c for c in chunks]
            groups = -(-len(m.buttons) // ZALO_MAX_BUTTONS)
            keys += ["text:" + ZALO_MORE_BUTTONS] * max(0, groups - 1)
    return keys


def tracker_turns(events: list[dict[str, Any]]) -> list[tuple[str, list[BotMessage]]]:
    """Split tracker events into user turns with the bot messages that followed each."""
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for ev in events:
        if ev.get("event") == "user":
            turns.append((str(ev.get("text") or ""), []))
        elif ev.get("event") == "bot" and turns:
            data = ev.get("data") or {}
            turns[-1][1].append({"text": ev.get("text"), **{k: v for k, v in data.items() if v}})
    return [(text, parse_messages(raw)) for text, raw in turns]


async def fetch_tracker(session: aiohttp.ClientSession, rasa_url: str, sender: str) -> list[dict[str, Any]]:
    """All events of a conversation from Rasa's HTTP API."""
    token = os.environ.get("RASA_TOKEN")
    url = f"{rasa_url}/conversations/{urllib.parse.quote(sender, safe='')}/tracker"
    params = {"include_events": "ALL", **({"token": token} if token else {})}
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=60)) as r:
        r.raise_for_status()
        body = await r.json(content_type=None)
    return list(body.get("events") or [])


@dataclass
class Check:
    """Per-phase delivery accounting and latencies of the turns whose replies all arrived."""

    turns: int = 0
    turns_complete: int = 0
    expected_calls: int = 0
    received_calls: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    out_of_order_senders: int = 0
    user_event_mismatch: int = 0
    rasa_twice: int = 0  # user messages Rasa handled twice (the same gateway inbox id in the tracker)
    lost_in_senders_with_busy: int = 0  # lost calls of senders who got the busy reply (Rasa too slow)
    busy_replies: int = 0
    dossier_found: int = 0
    dossier_turns: int = 0
    last: dict[str, list[float]] = field(default_factory=dict)
    first: dict[str, list[float]] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    no_reply_expected: int = 0
    replies_per_turn: Counter[int] = field(default_factory=Counter)


async def check_user(session: aiohttp.ClientSession, rasa_url: str, rec: Recorder, user: User, check: Check) -> None:
    """Compare what the fake API got for one user with what Rasa answered to each of its messages."""
    sent = [t for t in user.turns if t.sent_at and t.status == 200]
    check.turns += len(sent)
    events = await fetch_tracker(session, rasa_url, user.sender)
    turns = tracker_turns(events)
    inbox_ids = Counter(str((e.get("metadata") or {}).get("inbox")) for e in events
                        if e.get("event") == "user" and (e.get("metadata") or {}).get("inbox"))
    check.rasa_twice += sum(n - 1 for n in inbox_ids.values())
    if len(turns) != len(sent):
        check.user_event_mismatch += 1
    expected = [expected_calls(user.channel, msgs) for _, msgs in turns]
    got = rec.arrivals.get(user.sender, [])
    flat = [k for e in expected for k in e]
    check.expected_calls += len(flat)
    check.received_calls += len(got)
    want, have = Counter(flat), Counter(a.key for a in got)
    check.lost += sum((want - have).values())
    extra = have - want
    check.duplicated += sum(n for k, n in extra.items() if k in want)
    check.unexpected += sum(n for k, n in extra.items() if k not in want)
    busy = sum(1 for a in got if "Hệ thống đang bận" in a.key)
    check.busy_replies += busy
    if busy:
        check.lost_in_senders_with_busy += sum((want - have).values())
    if [a.key for a in got] != flat:
        check.out_of_order_senders += 1
    pos = 0
    for turn, keys in zip(sent, expected, strict=False):
        part = got[pos:pos + len(keys)]
        pos += len(keys)
        if turn.kind == "dossier_digits":
            check.dossier_turns += 1
            check.dossier_found += any(DOSSIER_FOUND_MARK in k for k in keys)
        if not keys:
            check.no_reply_expected += 1
            check.turns_complete += not part
            continue
        if [a.key for a in part] != keys:
            continue
        check.turns_complete += 1
        check.replies_per_turn[len(part)] += 1
        check.gaps += [b.at - a.at for a, b in itertools.pairwise(part)]
        for bucket in ("all", turn.kind):
            check.last.setdefault(bucket, []).append(part[-1].at - turn.sent_at)
            check.first.setdefault(bucket, []).append(part[0].at - turn.sent_at)


# ------------------------------------------------------------------------------------------------
# Phases
# ------------------------------------------------------------------------------------------------
def make_users(channels: list[str], n: int, turns: int, dossiers: list[tuple[str, str]], tag: str) -> list[User]:
    """``n`` users spread over ``channels`` with distinct ids and dossiers."""
    users = []
    stamp = int(time.time()) % 100_000
    for i in range(n):
        channel = channels[i % len(channels)]
        ident = {"telegram": str(next(CHAT_IDS)), "zalo": f"{tag}{stamp}u{i:04d}", "rest": f"{tag}-{stamp}-{i:04d}"}
        users.append(User(channel, ident[channel], make_script(i, dossiers[i % len(dossiers)], turns, channel)))
    return users


async def phase(name: str, stack: Stack, rec: Recorder, users: list[User], args: argparse.Namespace,
                think_s: tuple[float, float]) -> dict[str, Any]:
    """Run one load phase (webhooks or the REST baseline) and account for every message."""
    mem = MemorySampler(stack.pids)
    connector = aiohttp.TCPConnector(limit=len(users) + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        load = Load(session, rec, stack.gateway_url, stack.rasa_url, args.settle_ms / 1000, think_s, args.turn_timeout,
                    time.monotonic() + args.max_seconds, args.dup_rate, random.Random(args.seed))
        mem.start()
        t0 = time.perf_counter()

        async def one(u: User) -> None:
            await asyncio.sleep(load.rng.uniform(0, args.ramp_s))
            await (run_rest_user(load, u) if u.channel == "rest" else run_webhook_user(load, u))

        await asyncio.gather(*(one(u) for u in users))
        # Let the outbox drain: nothing pending and no reply for a second (bounded).
        drain_end = time.perf_counter() + 30
        while time.perf_counter() < drain_end and users[0].channel != "rest":
            pending = 0
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                async with session.get(stack.gateway_url + "/health") as r:
                    pending = int((await r.json()).get("outbox_pending", 0))
            if pending == 0 and time.perf_counter() - max(rec.last_at, t0) > 1.0:
                break
            await asyncio.sleep(0.2)
        wall = max(rec.last_at, t0) - t0 if users[0].channel != "rest" else time.perf_counter() - t0
        memory = await mem.stop()
        turns = [t for u in users for t in u.turns if t.sent_at]
        errors = sum(1 for t in turns if t.status != 200)
        result: dict[str, Any] = {
            "phase": name, "users": len(users), "channels": dict(Counter(u.channel for u in users)),
            "messages_sent": len(turns), "http_errors": errors, "seconds": round(wall, 2),
            "throughput_msgs_per_s": round(len(turns) / wall, 2) if wall else None,
        }
        if users[0].channel == "rest":
            ok = [t for t in turns if t.status == 200]
            by_kind: dict[str, list[float]] = {}
            for t in ok:
                by_kind.setdefault("all", []).append(t.ack_s or 0.0)
                by_kind.setdefault(t.kind, []).append(t.ack_s or 0.0)
            digits = [t for t in ok if t.kind == "dossier_digits"]
            result.update(
                latency=summary(by_kind.get("all", [])),
                latency_by_kind={k: summary(v) for k, v in sorted(by_kind.items()) if k != "all"},
                empty_answers=sum(1 for t in ok if not t.rest_replies),
                dossier_found=sum(1 for t in digits if any(DOSSIER_FOUND_MARK in x for x in t.rest_texts)),
                dossier_turns=len(digits),
            )
        else:
            check = Check()
            for u in users:
                await check_user(session, stack.rasa_url, rec, u, check)
            acks = [t.ack_s or 0.0 for t in turns if t.status == 200]
            result.update(
                latency_last_reply=summary(check.last.get("all", [])),
                latency_first_reply=summary(check.first.get("all", [])),
                latency_by_kind={k: summary(v) for k, v in sorted(check.last.items()) if k != "all"},
                webhook_ack=summary(acks),
                gap_between_replies_of_a_turn=summary(check.gaps),
                api_calls_per_turn=dict(sorted(check.replies_per_turn.items())),
                turn_timeouts=load.timeouts,
                delivery={
                    "turns": check.turns, "turns_complete": check.turns_complete,
                    "expected_api_calls": check.expected_calls, "received_api_calls": check.received_calls,
                    "lost": check.lost, "duplicated": check.duplicated, "unexpected": check.unexpected,
                    "senders_out_of_order": check.out_of_order_senders,
                    "senders_user_event_mismatch": check.user_event_mismatch,
                    "busy_replies": check.busy_replies, "turns_rasa_answered_nothing": check.no_reply_expected,
                    "redelivered_webhooks": load.duplicates_sent, "redelivery_acks": dict(load.duplicate_acks),
                },
                dossier_found=check.dossier_found, dossier_turns=check.dossier_turns,
            )
        result["memory"] = memory
        return result


def ratio(a: float | None, b: float | None) -> float | None:
    """The ratio a / b rounded; None when either is missing."""
    return round(a / b, 2) if a is not None and b else None


async def run_all(args: argparse.Namespace, stack: Stack, rec: Recorder) -> dict[str, Any]:
    """Warm up, then the REST baseline and the webhook phase(s) with the same scripts."""
    dossiers = load_dossiers(stack.data_dir or ROOT / "var", max(args.users_list + args.paced_users_list))
    async with aiohttp.ClientSession() as s:  # warm-up: first calls load lazy parts of the models
        for text in ("xin chào", "lam giay khai sinh can gi"):
            async with s.post(f"{stack.rasa_url}/webhooks/rest/webhook", timeout=aiohttp.ClientTimeout(total=120),
                              json={"sender": "web:bench-warmup", "message": text}) as r:
                await r.read()
    runs = []
    scenarios = [(n, (args.think_min_ms, args.think_max_ms), "fast") for n in args.users_list]
    scenarios += [(n, (args.paced_think_min_ms, args.paced_think_max_ms), "paced") for n in args.paced_users_list]
    for n, think_ms, pacing in scenarios:
        think_s = (think_ms[0] / 1000, think_ms[1] / 1000)
        tag = f"{pacing[0]}{n}"
        base = await phase("rest_baseline", stack, rec,
                           make_users(["rest"], n, args.turns, dossiers, "b" + tag), args, think_s)
        hook = await phase("webhooks", stack, rec,
                           make_users(["telegram", "zalo"], n, args.turns, dossiers, "z" + tag), args, think_s)
        lb, lh = base["latency"], hook["latency_last_reply"]
        d = hook["delivery"]
        runs.append({
            "concurrent_users": n, "pacing": pacing, "think_ms": list(think_ms), "rest_baseline": base,
            "webhooks": hook,
            "gateway_overhead": {
                "p50_ratio": ratio(lh["p50_ms"], lb["p50_ms"]), "p95_ratio": ratio(lh["p95_ms"], lb["p95_ms"]),
                "p50_added_ms": round(lh["p50_ms"] - lb["p50_ms"], 1) if lh["p50_ms"] and lb["p50_ms"] else None,
                "throughput_ratio": ratio(hook["throughput_msgs_per_s"], base["throughput_msgs_per_s"]),
            },
            "target": {
                "p95_le_500ms": lh["p95_ms"] is not None and lh["p95_ms"] <= 500,
                "zero_lost_or_duplicated": d["lost"] == 0 and d["duplicated"] == 0 and d["unexpected"] == 0
                and hook["http_errors"] == 0 and d["turns_complete"] == d["turns"],
            },
        })
    return {"runs": runs, "dossier_lookup": dossier_summary(runs)}


def dossier_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The verified dossier lookup turn (code + 4 digits → Rasa → actions → SQLite one-stop adapter)."""
    out: dict[str, Any] = {}
    for run in runs:
        n = run["concurrent_users"]
        out[f"{n}_users_{run['pacing']}"] = {
            "rest": run["rest_baseline"]["latency_by_kind"].get("dossier_digits"),
            "rest_found": f"{run['rest_baseline']['dossier_found']}/{run['rest_baseline']['dossier_turns']}",
            "webhooks_last_reply": run["webhooks"]["latency_by_kind"].get("dossier_digits"),
            "webhooks_found": f"{run['webhooks']['dossier_found']}/{run['webhooks']['dossier_turns']}",
        }
    return out


@contextlib.contextmanager
def serve_fakes(args: argparse.Namespace, rec: Recorder, loop: asyncio.AbstractEventLoop) -> Iterator[dict[str, str]]:
    """Serve the fake Telegram/Zalo APIs (and the fake Rasa with ``--stack fake``) on 127.0.0.1."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application, port: int) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    urls = {"telegram": loop.run_until_complete(serve(fake_telegram(rec), args.fake_telegram_port)),
            "zalo": loop.run_until_complete(serve(fake_zalo(rec), args.fake_zalo_port))}
    if args.stack == "fake":
        urls["rasa"] = loop.run_until_complete(serve(fake_rasa(args.fake_rasa_ms / 1000), 0))
    try:
        yield urls
    finally:
        for runner in reversed(runners):
            loop.run_until_complete(runner.cleanup())


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start the fakes and the stack, run the phases, stop everything, write the results."""
    rec = Recorder()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    tmp = Path(tempfile.mkdtemp(prefix="tthc-channels-bench-"))
    stack: Stack | None = None
    t_start = time.perf_counter()
    try:
        with serve_fakes(args, rec, loop) as urls:
            env = dict(base_env(tmp / "data"), **channel_env(urls["telegram"], urls["zalo"]))
            if args.stack == "running":
                pids = find_pids()
                stack = Stack(args.rasa_url, args.gateway_url, pids, None, lambda: None)
            else:
                prepare_data_dir(ROOT / "var", tmp / "data")
                if args.stack == "run-sh":
                    stack = start_run_sh(tmp / "data", env, tmp / "run.log")
                else:
                    stack = start_direct(tmp / "data", env, tmp, urls.get("rasa"))
            startup_s = round(time.perf_counter() - t_start, 1)
            body = loop.run_until_complete(run_all(args, stack, rec))
            if stack is not None:
                stack.stop()
                stack = None
    finally:
        if stack is not None:
            stack.stop()
        loop.close()
        if args.keep_tmp:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "benchmark": "channels_webhooks_end_to_end",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "stack": {"mode": args.stack, "rasa": "fake" if args.stack == "fake" else "models/tthc.tar.gz",
                  "startup_s": startup_s, "fake_api_calls_other": dict(rec.other_calls)},
        "params": {"users": args.users_list, "paced_users": args.paced_users_list, "turns_per_user": args.turns,
                   "think_ms": [args.think_min_ms, args.think_max_ms],
                   "paced_think_ms": [args.paced_think_min_ms, args.paced_think_max_ms],
                   "settle_ms": args.settle_ms, "ramp_s": args.ramp_s,
                   "redelivery_rate": args.dup_rate, "max_seconds_per_phase": args.max_seconds, "seed": args.seed},
        "method": ("Closed-loop users: send a message, wait for its replies at the fake API (first reply, then "
                   "settle_ms with no more), think, send the next. Latency = webhook request sent -> the fake API "
                   "received the turn's last (first) reply; the turn's reply set is what Rasa's tracker says it "
                   "answered, rendered as the channel renders it. Baseline = same scripts straight to Rasa REST, "
                   "latency = REST response. Throughput = messages / wall time (includes think time)."),
        **body,
    }
    if args.stack != "fake" or args.write_fake:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_suffix(".json.tmp")
        tmp_out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp_out, out)
    return result


def cli() -> None:
    """Parse arguments, run, print a short summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--stack", choices=["run-sh", "direct", "running", "fake"], default="run-sh",
                   help="run-sh: scripts/run.sh (default ports); direct: the three processes on free ports; "
                        "running: an already running stack; fake: a fake Rasa (develop this script)")
    p.add_argument("--users", default="1,20,50", help="comma-separated concurrent user counts, one run each")
    p.add_argument("--paced-users", default="20", help="extra runs with the slower, chat-like think time")
    p.add_argument("--paced-think-min-ms", type=float, default=3000.0)
    p.add_argument("--paced-think-max-ms", type=float, default=8000.0)
    p.add_argument("--turns", type=int, default=10, help="messages per user")
    p.add_argument("--think-min-ms", type=float, default=500.0)
    p.add_argument("--think-max-ms", type=float, default=1500.0)
    p.add_argument("--settle-ms", type=float, default=250.0, help="quiet time that ends a turn's replies")
    p.add_argument("--ramp-s", type=float, default=2.0, help="users start spread over this many seconds")
    p.add_argument("--dup-rate", type=float, default=0.05, help="share of webhooks delivered twice")
    p.add_argument("--turn-timeout", type=float, default=20.0, help="give up waiting for a reply")
    p.add_argument("--max-seconds", type=float, default=240.0, help="time cap per phase")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    p.add_argument("--gateway-url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080"))
    p.add_argument("--fake-telegram-port", type=int, default=0, help="with --stack running: where the gateway sends")
    p.add_argument("--fake-zalo-port", type=int, default=0, help="with --stack running: where the gateway sends")
    p.add_argument("--fake-rasa-ms", type=float, default=50.0)
    p.add_argument("--write-fake", action="store_true", help="write results even with --stack fake")
    p.add_argument("--keep-tmp", action="store_true")
    p.add_argument("--out", default=str(RESULTS), help="results file")
    args = p.parse_args()
    args.users_list = [max(1, min(int(x), 200)) for x in args.users.split(",") if x.strip()]
    args.paced_users_list = [max(1, min(int(x), 200)) for x in args.paced_users.split(",") if x.strip()]
    args.turns = max(1, min(args.turns, 50))
    result = main(args)
    for run in result["runs"]:
        b, h = run["rest_baseline"], run["webhooks"]
        print(json.dumps({"users": run["concurrent_users"], "pacing": run["pacing"], "rest": b["latency"],
                          "webhooks": h["latency_last_reply"],
                          "delivery": h["delivery"], "overhead": run["gateway_overhead"], "target": run["target"],
                          "memory": h["memory"]}, ensure_ascii=False, indent=1))
    print(json.dumps(result["dossier_lookup"], ensure_ascii=False, indent=1))


if __name__ == "__main__":
    cli()
