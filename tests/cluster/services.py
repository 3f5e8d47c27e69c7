"""Throwaway PostgreSQL and Redis servers on loopback for the cluster tests and bench (own dirs, free ports)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (initdb, pg_ctl), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def missing_binaries() -> list[str]:
    """Which of the cluster's Debian packages are not installed."""
    missing = [] if pg_bin() else ["postgresql"]
    missing += [name for name, exe in (("redis-server", "redis-server"), ("nginx", "nginx"))
                if not shutil.which(exe) and not Path(f"/usr/sbin/{exe}").exists()]
    return missing


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Postgres:
    """A running throwaway cluster; ``url(db)`` names one of its databases."""

    root: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy/psycopg2 URL of ``database`` (trust auth on loopback, user postgres)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg2

        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        binary = pg_bin()
        if binary is not None:
            subprocess.run(_as_postgres([str(binary / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                                         "stop"]), capture_output=True, timeout=30, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(port: int | None = None, max_connections: int = 200) -> Postgres:
    """Run initdb in a temp dir and start a server on 127.0.0.1 (``port`` or a free one)."""
    binary = pg_bin()
    if binary is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tthc-pg-"))
    port = port or free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(_as_postgres([str(binary / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                                 "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True, timeout=120)
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
               f"-c max_connections={max_connections} -c fsync=off -c shared_buffers=32MB")
    subprocess.run(_as_postgres([str(binary / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"),
                                 "-o", options, "-w", "-t", "60", "start"]),
                   check=True, capture_output=True, timeout=90)
    return Postgres(root, port)


@dataclass
class Redis:
    """A running throwaway redis-server."""

    process: subprocess.Popen[bytes]
    root: Path
    port: int

    def stop(self) -> None:
        """Stop it and delete its files."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis(port: int | None = None) -> Redis:
    """redis-server on 127.0.0.1 without persistence."""
    root = Path(tempfile.mkdtemp(prefix="tthc-redis-"))
    port = port or free_port()
    process = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                "--appendonly", "no", "--dir", str(root)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return Redis(process, root, port)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start")
