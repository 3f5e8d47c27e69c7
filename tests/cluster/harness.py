"""scripts/run_cluster.sh as a child process group, on a private data dir and a free block of ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BLOCK = 50  # run_cluster.sh uses BASE .. BASE+49


def free_block() -> int:
    """A base port whose whole block is free now (CLUSTER_TEST_PORT_BASE pins it)."""
    if os.environ.get("CLUSTER_TEST_PORT_BASE"):
        return int(os.environ["CLUSTER_TEST_PORT_BASE"])
    for base in range(31000 + os.getpid() % 50 * 100, 60000, 100):
        try:
            for port in range(base, base + BLOCK):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports")


def http(url: str, body: Any = None, timeout: float = 60) -> Any:
    """GET or POST JSON; the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode() or "null")


class Cluster:
    """The whole topology, started by the same script as ``make run-cluster``."""

    def __init__(self, replicas: int = 2, extra_env: dict[str, str] | None = None) -> None:
        """Prepare a private data dir (copied index and demo one-stop DB, the built models linked)."""
        self.root = Path(tempfile.mkdtemp(prefix="tthc-cluster-"))
        self.data = self.root / "data"
        self.data.mkdir()
        shutil.copytree(ROOT / "var" / "index", self.data / "index", symlinks=True)
        (self.data / "models").symlink_to(ROOT / "var" / "models")
        shutil.copy(ROOT / "var" / "onestop.db", self.data / "onestop.db")
        self.pg_dir = Path(tempfile.mkdtemp(prefix="tthc-cluster-pg-", dir="/var/tmp"))
        self.pg_dir.chmod(0o711)  # run as root, PostgreSQL runs as "postgres" and must pass through
        self.base = free_block()
        self.replicas = replicas
        self.dir = self.root / "cluster"
        self.token = os.urandom(16).hex()
        self.env = {**os.environ, "TTHC_DATA_DIR": str(self.data), "CLUSTER_DIR": str(self.dir),
                    "CLUSTER_PORT_BASE": str(self.base), "CLUSTER_REPLICAS": str(replicas),
                    "CLUSTER_PG_DIR": str(self.pg_dir / "pg"), "RASA_TOKEN": self.token,
                    "TTHC_HASH_KEY": "cluster-test-key", "GATEWAY_PUSH_TOKEN": "cluster-push",
                    "NOTIFIER_INTERVAL_S": "1", "CLUSTER_LEASE_S": "4", **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 1200) -> float:
        """Start and wait until every replica answers; the seconds it took."""
        t0 = time.monotonic()
        self.log = (self.root / "run_cluster.log").open("ab")
        self.proc = subprocess.Popen(["bash", "scripts/run_cluster.sh"], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        while not (self.dir / "ready").exists():
            if self.proc.poll() is not None or time.monotonic() - t0 > timeout:
                raise RuntimeError(f"cluster did not come up: {self.tail()}")
            time.sleep(1)
        return time.monotonic() - t0

    def tail(self) -> str:
        """The end of the launcher's log."""
        return (self.root / "run_cluster.log").read_text(errors="replace")[-3000:]

    def port(self, role: str, i: int = 0) -> int:
        """The port of replica ``i`` of ``rasa``, ``actions`` or ``gateway``; ``front`` is nginx."""
        return self.base + {"front": 0, "rasa": 10, "actions": 20, "gateway": 30}[role] + i

    def url(self, role: str, i: int = 0) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port(role, i)}"

    def pid(self, name: str) -> int:
        """The pid of a process the launcher started (``rasa0``, ``gateway1``, ``notifier0``, ...)."""
        return int((self.dir / "pids" / f"{name}.pid").read_text())

    def kill(self, name: str) -> None:
        """Send SIGKILL to one process and its children."""
        os.killpg(self.pid(name), signal.SIGKILL)

    def stop(self) -> None:
        """Ctrl-C the launcher (it stops everything, PostgreSQL included), then clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)
