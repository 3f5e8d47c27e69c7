"""Whole-stack smoke test: scripts/run.sh starts everything; REST, parse, web chat, restart."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
RASA = "http://127.0.0.1:5005"
TOKEN = secrets.token_hex(16)
GATEWAY = "http://127.0.0.1:8080"


def http(url: str, body: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    """GET or POST JSON and decode the JSON answer (or return text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read().decode()
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class Stack:
    """scripts/run.sh as a child process group."""

    def __init__(self, env: dict[str, str]) -> None:
        """Start the stack and wait until it reports that everything is up."""
        self.log = ROOT / "var" / "log" / "stack-test.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.out = self.log.open("a")
        self.proc = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if "all up" in self.log.read_text(errors="replace").split("=== stack-test start ===")[-1]:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"run.sh exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            time.sleep(2)
        raise AssertionError("stack did not come up in 600 s")

    def stop(self) -> int:
        """Ctrl-C the script, as a user would, and return its exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.out.close()
        return code


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment with a private tracker store, so the test does not touch var/tracker.db."""
    tracker = tmp_path_factory.mktemp("tracker") / "tracker.db"
    yield {**os.environ, "TRACKER_STORE_URL": f"sqlite:///{tracker}", "RASA_TOKEN": TOKEN}


def start(env: dict[str, str]) -> Stack:
    """Mark the log and start."""
    log = ROOT / "var" / "log" / "stack-test.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write("\n=== stack-test start ===\n")
    return Stack(env)


def ports_closed() -> bool:
    """True when nothing answers on the stack's ports any more."""
    for url in (f"{RASA}/", "http://127.0.0.1:5055/health", f"{GATEWAY}/health"):
        try:
            urllib.request.urlopen(url, timeout=2)
            return False
        except OSError:
            continue
    return True


def test_stack_end_to_end(env: dict[str, str]) -> None:
    sender = f"web:stack-{uuid.uuid4().hex[:8]}"
    stack = start(env)
    try:
        replies = http(f"{RASA}/webhooks/rest/webhook", {"sender": sender, "message": "xin chao"})
        assert replies and "Xin chào" in replies[0]["text"]
        assert [b["title"] for b in replies[0]["buttons"]] == ["Hỏi thủ tục", "Tra cứu hồ sơ", "Gặp tổng đài viên"]

        parse = f"{RASA}/model/parse?token={TOKEN}"
        assert http(parse, {"text": "kiem tra ho so giup toi"})["intent"]["name"] == "check_status"
        assert http(parse, {"text": "lam giay khai sinh can gi"})["intent"]["name"] == "ask_procedure"
        assert http(parse, {"text": "asdkjh qwe"})["intent"]["name"] == "nlu_fallback"
        for url in (f"{RASA}/model/parse", f"{RASA}/model/parse?token=wrong", f"{RASA}/conversations/{sender}/tracker"):
            with pytest.raises(urllib.error.HTTPError) as denied:
                http(url, {"text": "xin chao"} if "parse" in url else None)
            assert denied.value.code == 401, url

        # The whole path: NLU -> action server -> catalogue search -> answer citing the code.
        answer = http(f"{RASA}/webhooks/rest/webhook", {"sender": sender, "message": "lam giay khai sinh can gi"})
        assert "1.001193" in " ".join(m.get("text", "") for m in answer)
        lookup = {"sender": sender, "message": "tra cuu ho so 000.00.20.H57-240101-0001"}
        status = http(f"{RASA}/webhooks/rest/webhook", lookup)
        assert "4 số cuối" in status[0]["text"]

        health = http(f"{GATEWAY}/health")
        assert health["status"] == "ok", health
        page = http(f"{GATEWAY}/")
        assert isinstance(page, str) and "<html" in page.lower()
    finally:
        assert stack.stop() in (0, 130)
    assert ports_closed()

    stack = start(env)
    try:
        tracker = http(f"{RASA}/conversations/{sender}/tracker?token={TOKEN}")
        texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
        assert "xin chao" in texts, "the conversation did not survive a restart"
    finally:
        stack.stop()
