"""Every process refuses to start on a malformed setting: one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import REPO_ROOT


@pytest.mark.parametrize(("args", "variable"), [
    (["connectors"], "GATEWAY_PORT"),
    (["connectors.voice"], "VOICE_SIP_PORT"),
    (["bot.action_server"], "ONESTOP_RETRIES"),
    (["dossier.notifier", "--once"], "NOTIFIER_INTERVAL_S"),
    (["admin", "list-users"], "ADMIN_MAX_UPLOAD_MB"),
    (["knowledge", "stats"], "KNOWLEDGE_MIN_SCORE"),
    (["dossier", "show", "000.00.20.H57-240101-0001"], "ONESTOP_TIMEOUT_S"),
    (["bot.action_server"], "ACTION_SERVER_PORT"),
], ids=lambda value: value[0] if isinstance(value, list) else "")
def test_entry_point_exits_2_naming_the_variable(args: list[str], variable: str, tmp_path: Path) -> None:
    env = {**os.environ, "TTHC_TEST": "1", "TTHC_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    env[variable] = "abc"
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"configuration error: {variable}='abc': expected " in done.stderr.splitlines()[-1]
