"""The hand-over against the real Rasa 3.6 (trained model), action server and gateway: needs --run-stack.

Each process is started here on free 127.0.0.1 ports with a private data dir (the built catalogue and
index copied, the embedding models linked), so it runs beside a ``make run`` stack without touching it.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "stack-handover-token-0123456789"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE_RE = re.compile(r"\b\d\.\d{6}\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """JSON and form requests with a cookie jar (one per browser)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, path: str, body: Any = None, form: dict[str, str] | None = None) -> tuple[int, Any]:
        data, headers = None, {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.opener.open(request, timeout=120) as resp:
                status, raw = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode()
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Action server, Rasa (with its HTTP API) and the gateway on free ports, private data dir."""
    var = ROOT / "var"
    if not (ROOT / "models" / "tthc.tar.gz").exists() or not (var / "catalogue.db").exists():
        pytest.fail("needs a trained model and a built catalogue (make train)")
    data = tmp_path_factory.mktemp("handover-stack")
    shutil.copy(var / "catalogue.db", data / "catalogue.db")
    shutil.copytree(var / "index", data / "index")
    (data / "models").symlink_to(var / "models")
    from admin.store import AdminStore

    AdminStore(data / "admin.db").create_user("canbo", "canbo-pass-123456", "editor")
    ports = {name: free_port() for name in ("actions", "rasa", "gateway")}
    env = {**os.environ, "TTHC_DATA_DIR": str(data), "RASA_TOKEN": TOKEN, "PYTHONPATH": str(ROOT),
           "TRACKER_STORE_URL": f"sqlite:///{data / 'tracker.db'}", "RASA_URL": f"http://127.0.0.1:{ports['rasa']}",
           "ACTION_SERVER_URL": f"http://127.0.0.1:{ports['actions']}/webhook", "GATEWAY_PORT": str(ports["gateway"]),
           "DESK_OPEN_DAYS": "1-7", "DESK_OPEN_FROM": "00:00", "DESK_OPEN_UNTIL": "24:00", "OMP_NUM_THREADS": "1",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TTHC_TEST": "1"}
    log = (data / "stack.log").open("w")
    commands = [
        [str(ROOT / ".venv/bin/python"), "-m", "bot.action_server", "--host", "127.0.0.1",
         "--port", str(ports["actions"])],
        [str(ROOT / ".venv-rasa/bin/rasa"), "run", "--enable-api", "--auth-token", TOKEN, "-i", "127.0.0.1",
         "-p", str(ports["rasa"]), "--model", "models/tthc.tar.gz", "--endpoints", "endpoints.yml",
         "--credentials", "credentials.yml"],
        [str(ROOT / ".venv/bin/python"), "-m", "connectors"],
    ]
    procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT) for c in commands]
    try:
        for url in (f"http://127.0.0.1:{ports['actions']}/health", f"http://127.0.0.1:{ports['rasa']}/",
                    f"http://127.0.0.1:{ports['gateway']}/health"):
            deadline = time.monotonic() + 600
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                        pytest.fail(f"{url} did not come up: {(data / 'stack.log').read_text()[-3000:]}")
                    time.sleep(2)
        yield {"ports": ports, "data": data}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


def test_real_rasa_pauses_records_and_resumes_with_context(stack: dict[str, Any]) -> None:
    gateway = f"http://127.0.0.1:{stack['ports']['gateway']}"
    rasa = Client(f"http://127.0.0.1:{stack['ports']['rasa']}")
    citizen, staff = Client(gateway), Client(gateway)
    sender = f"web:stackhandover{int(time.time())}"

    def say(text: str) -> str:
        status, body = citizen.call("/api/chat", {"sender": sender, "message": text})
        assert status == 200, body
        return " ".join(m["text"] for m in body["messages"])

    def tracker() -> dict[str, Any]:
        status, body = rasa.call(f"/conversations/{sender}/tracker?token={TOKEN}")
        assert status == 200, body
        return body

    first = say("đăng ký tạm trú cần giấy tờ gì")
    codes = CODE_RE.findall(first)
    assert codes, first
    assert "người tiếp theo" in say("cho tôi gặp tổng đài viên")
    assert tracker()["latest_action_name"] == "action_handoff"
    assert [e["event"] for e in tracker()["events"]].count("pause") == 1

    login = staff.call("/admin/login")[1]
    staff.call("/admin/login", form={"csrf_token": CSRF_RE.search(login).group(1), "username": "canbo",
                                     "password": "canbo-pass-123456", "next": "/admin/"})
    csrf = CSRF_RE.search(staff.call("/admin/desk")[1]).group(1)
    (row,) = [s for s in staff.call("/admin/desk/queue")[1]["sessions"] if s["status"] == "waiting"]
    assert staff.call(f"/admin/desk/sessions/{row['id']}/claim", form={"csrf_token": csrf})[0] == 200
    for i in range(3):
        assert say(f"tôi muốn hỏi thêm điều số {i}") == ""  # the real Rasa predicts nothing while paused
        status, body = staff.call(f"/admin/desk/sessions/{row['id']}/reply",
                                  form={"csrf_token": csrf, "text": f"Cán bộ trả lời {i}"})
        assert status == 200 and body["in_tracker"], body
    events = tracker()["events"]
    paused_at = next(i for i, e in enumerate(events) if e["event"] == "pause")
    after = events[paused_at:]
    assert [e["text"] for e in after if e["event"] == "user"] == [f"tôi muốn hỏi thêm điều số {i}" for i in range(3)]
    assert [(e["text"], e["metadata"]["staff"]) for e in after if e["event"] == "bot"] == [
        (f"Cán bộ trả lời {i}", "canbo") for i in range(3)]
    assert not any(e["event"] == "action" and e["name"] != "action_listen" for e in after)

    status, body = staff.call(f"/admin/desk/sessions/{row['id']}/close",
                              form={"csrf_token": csrf, "outcome": "returned_to_bot"})
    assert status == 200, body
    assert tracker()["paused"] is False
    fee = say("còn lệ phí thì sao")
    assert codes[0] in fee, fee
