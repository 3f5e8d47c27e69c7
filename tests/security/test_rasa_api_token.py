"""§2: Rasa's HTTP API, started with scripts/run.sh's arguments, never answers without the generated token."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"


def shell(data_dir: Path, script: str, **env: str) -> str:
    """Run ``script`` after sourcing scripts/env.sh with ``data_dir`` as TTHC_DATA_DIR; return its stdout."""
    clean = {k: v for k, v in os.environ.items() if k != "RASA_TOKEN"}
    return subprocess.run(["bash", "-c", f"source scripts/env.sh && {script}"], cwd=ROOT, check=True, text=True,
                          capture_output=True, env={**clean, "TTHC_DATA_DIR": str(data_dir), **env}).stdout


def test_token_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = shell(tmp_path, 'ensure_rasa_token && echo "$RASA_TOKEN"').strip()
    path = tmp_path / ".rasa_token"
    assert len(first) == 64 and path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert shell(tmp_path, 'ensure_rasa_token && echo "$RASA_TOKEN"').strip() == first
    assert shell(tmp_path, 'echo "$RASA_TOKEN"').strip() == first  # every script sourcing env.sh sees it
    assert shell(tmp_path / "other", 'ensure_rasa_token && echo "$RASA_TOKEN"', RASA_TOKEN="mine").strip() == "mine"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(url: str, body: dict[str, object] | None = None) -> int:
    """The HTTP status of a GET (or a JSON POST when ``body`` is given); 0 when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0  # not listening (yet)


@pytest.fixture(scope="module")
def rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Rasa on a free port with run.sh's arguments (no model loaded, so it starts in seconds)."""
    if not RASA.exists():
        pytest.skip("no .venv-rasa")
    data = tmp_path_factory.mktemp("rasa-data")
    port = free_port()
    args = shell(data, f"ensure_rasa_token && rasa_server_args {port}").splitlines()
    # An empty folder: a missing path would make Rasa fall back to ./models and load the real model.
    (data / "no-models").mkdir()
    args[args.index("--model") + 1] = str(data / "no-models")
    token = (data / ".rasa_token").read_text()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TRACKER_STORE_URL": f"sqlite:///{data / 't.db'}",
           "ACTION_SERVER_URL": "http://127.0.0.1:9/webhook"}
    with (data / "rasa.log").open("wb") as log:
        proc = subprocess.Popen([str(RASA), *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while status(f"{url}/") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rasa did not start: {(data / 'rasa.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize(("path", "body"), [
    ("/model/parse", {"text": "kiem tra ho so"}),
    ("/conversations/web:victim/tracker", None),
    ("/conversations/web:victim/tracker/events", {"event": "slot", "name": "last_dossier_code",
                                                   "value": "000.00.20.H57-240101-0001"}),
    ("/conversations/web:victim/trigger_intent", {"name": "subscribe_status"}),
    ("/status", None),
])
def test_api_refuses_without_the_token(rasa: tuple[str, str], path: str, body: dict[str, object] | None) -> None:
    url, token = rasa
    assert status(f"{url}{path}", body) == 401
    assert status(f"{url}{path}?token=wrong", body) == 401
    assert status(f"{url}{path}?token={token}", body) != 401


def test_root_and_rest_channel_need_no_token(rasa: tuple[str, str]) -> None:
    url, _ = rasa
    assert status(f"{url}/") == 200
    assert status(f"{url}/webhooks/rest/webhook", {"sender": "web:x", "message": "xin chao"}) != 401
