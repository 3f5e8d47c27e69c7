"""A real conversation through Rasa and the action server over the redacting store (runs in .venv-rasa).

The dossier lookup still works across turns, and the stored conversation holds no phone number or second factor.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("rasa")

from rasa.core.agent import Agent
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_http
from bot.tracker_store import RedactingSQLTrackerStore

from .stored_events import stored_text

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "tthc.tar.gz"
DATA = ROOT / "var"
CODE = "000.00.20.H57-240101-0001"  # the seeded demo dossier; applicant phone 0912346789


def _free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real action server on a free port, over a private copy of the data dir."""
    if not MODEL.exists() or not (DATA / "onestop.db").exists() or not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("needs the trained model, the seeded data dir and .venv (make setup; make train)")
    data = tmp_path_factory.mktemp("data")
    for name in ("models", "index"):
        (data / name).symlink_to(DATA / name)
    for name in ("catalogue.db", "onestop.db"):
        shutil.copy(DATA / name, data / name)
    port = _free_port()
    env = {**os.environ, "TTHC_DATA_DIR": str(data), "TTHC_TEST": "1", "OMP_NUM_THREADS": "1"}
    log = (data / "actions.log").open("w")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-m", "bot.action_server", "--host",
                             "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((data / "actions.log").read_text()[-2000:]) from None
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


async def _talk(agent: Agent, sender: str, messages: list[str]) -> list[str]:
    """Send the messages one turn at a time, as the REST channel does; return the bot's texts."""
    replies: list[str] = []
    for message in messages:
        for reply in await agent.handle_text(message, sender_id=sender) or []:
            replies.append(str(reply.get("text") or ""))
    await rasa_http.close()  # the action calls' kept-alive session (the REST channel closes it in a server)
    return replies


def test_lookup_across_turns_works_and_nothing_personal_is_stored(action_server: str, tmp_path: Path) -> None:
    store = RedactingSQLTrackerStore(host=f"sqlite:///{tmp_path / 'tracker.db'}")
    agent = Agent.load(str(MODEL), tracker_store=store, action_endpoint=EndpointConfig(action_server))
    digits = asyncio.run(_talk(agent, "web:pii-1", ["tra cứu hồ sơ", CODE, "bốn số cuối là 6789"]))
    phone = asyncio.run(_talk(agent, "web:pii-2", ["tra cứu hồ sơ", CODE, "số điện thoại của tôi 0912 346 789"]))
    for replies in (digits, phone):
        assert any(f"Hồ sơ {CODE}" in r and "Tình trạng" in r for r in replies), replies

    stored = stored_text(tmp_path / "tracker.db")  # strings and integers: a timestamp may hold any four digits
    assert "6789" not in stored and "346 789" not in stored and "0912" not in stored
    assert CODE in stored
