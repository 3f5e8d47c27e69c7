"""The commands `make run` and setup use: python -m dossier / dossier.notifier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dossier.adapters.sqlite import SqliteOnestop
from dossier.settings import REPO_ROOT


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run a module in a fresh interpreter against ``data_dir``."""
    env = {**os.environ, "TTHC_DATA_DIR": str(data_dir), "GATEWAY_URL": "http://127.0.0.1:9",
           "NOTIFIER_INTERVAL_S": "1"}
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_seed_then_notifier_once(tmp_path: Path) -> None:
    first = run(["dossier", "seed"], tmp_path)
    assert first.returncode == 0 and "seeded" in first.stdout
    again = run(["dossier", "seed"], tmp_path)
    assert again.returncode == 0 and "already seeded" in again.stdout
    assert SqliteOnestop(tmp_path / "onestop.db").count() >= 200
    once = run(["dossier.notifier", "--once"], tmp_path)
    assert once.returncode == 0 and "Traceback" not in once.stderr
    assert (tmp_path / "dossier_state.db").exists()
