"""State under the data dir is private: SQLite files 0600, folders 0700, even under a permissive umask (§5)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from common.db import SqliteDB, make_engine
from common.hashing import Hasher

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """What a careless service manager leaves: 022."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_helper_creates_private_files(tmp_path: Path) -> None:
    db = SqliteDB(tmp_path / "state" / "x.db", "CREATE TABLE IF NOT EXISTS t (v TEXT);")
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES ('0912345678')")
    assert _mode(tmp_path / "state") == 0o700
    for name in ("x.db", "x.db-wal", "x.db-shm"):
        if (tmp_path / "state" / name).exists():
            assert _mode(tmp_path / "state" / name) == 0o600, name


def test_old_world_readable_database_is_closed_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    with SqliteDB(path, "CREATE TABLE IF NOT EXISTS t (v TEXT);").transaction() as conn:
        conn.execute("SELECT 1")
    assert _mode(path) == 0o600


def test_sqlalchemy_engine_creates_private_files(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'catalogue.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
    engine.dispose()
    assert _mode(tmp_path / "db") == 0o700
    assert _mode(tmp_path / "db" / "catalogue.db") == 0o600


def test_hash_key_is_private(tmp_path: Path) -> None:
    Hasher.from_settings("", tmp_path / "data")
    assert _mode(tmp_path / "data" / ".hash_key") == 0o600
    assert _mode(tmp_path / "data") == 0o700


def test_run_script_starts_every_process_under_a_private_umask() -> None:
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert "umask 077" in script
    assert script.index("umask 077") < script.index("start actions")
