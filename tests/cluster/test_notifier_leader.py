"""Two notifier processes on one PostgreSQL state database.

One leads; one status change gives one push; when the leader is killed the other takes over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from common.settings import REPO_ROOT
from dossier.adapters.sqlite import SqliteOnestop
from dossier.models import FINAL_STATUSES, Status
from dossier.seed import generate
from dossier.store import StateDB
from dossier.subscriptions import SubscriptionStore


async def wait_for(check: Any, timeout: float, what: str) -> None:
    """Poll ``check()`` until true or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def start_notifier(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m dossier.notifier`` with ``env``, logging to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "dossier.notifier"], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


async def test_two_notifiers_one_push_and_takeover(pg_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """One change → one push with two notifiers running; kill -9 the leader → the other pushes the next."""
    pushes: list[dict[str, Any]] = []

    async def push(request: web.Request) -> web.Response:
        pushes.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/internal/push", push)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    onestop = SqliteOnestop(tmp_path / "onestop.db")
    dossiers = generate(date(2026, 3, 2))
    onestop.upsert(dossiers)
    waiting = [d.code for d in dossiers if d.status not in FINAL_STATUSES and d.status is not Status.RESULT_READY]
    code, other = waiting[:2]
    env = {**os.environ, "TTHC_TEST": "1", "TTHC_DATA_DIR": str(tmp_path), "STATE_DB_URL": pg_url,
           "TTHC_HASH_KEY": "k" * 32, "GATEWAY_URL": str(server.make_url("")).rstrip("/"),
           "GATEWAY_PUSH_TOKEN": "t", "NOTIFIER_INTERVAL_S": "0.3", "PYTHONPATH": str(REPO_ROOT)}
    monkeypatch.setenv("STATE_DB_URL", pg_url)
    try:
        subs = SubscriptionStore(StateDB(tmp_path / "dossier_state.db"))
        assert subs.db.dialect == "postgresql"
        for sender, dossier_code in (("tg:1", code), ("tg:2", other)):
            found = onestop.get_sync(dossier_code)
            assert found is not None
            subs.subscribe(sender, "telegram", dossier_code, found.status.value)
        logs = [tmp_path / "n1.log", tmp_path / "n2.log"]
        procs = [start_notifier(env, logs[0]), start_notifier(env, logs[1])]
        try:
            await wait_for(lambda: sum("notifier: leading" in p.read_text() for p in logs if p.exists()) == 1,
                           30, "a leader")
            await asyncio.sleep(1.0)  # several cycles of both
            onestop.update(code, status="RESULT_READY")
            await wait_for(lambda: len(pushes) >= 1, 10, "the push")
            await asyncio.sleep(1.5)  # any duplicate would arrive within a few cycles
            assert [p["sender"] for p in pushes] == ["tg:1"]
            leader = next(i for i, p in enumerate(logs) if "notifier: leading" in p.read_text())
            procs[leader].send_signal(signal.SIGKILL)
            procs[leader].wait(10)
            onestop.update(other, status="RESULT_READY")
            await wait_for(lambda: len(pushes) >= 2, 15, "the push after the leader died")
            await asyncio.sleep(1.5)
            assert [p["sender"] for p in pushes] == ["tg:1", "tg:2"]
            assert "notifier: leading" in logs[1 - leader].read_text()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(10)
    finally:
        await server.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_only_one_of_two_leaderships_leads(backend: str, pg_url: str, tmp_path: Path) -> None:
    """The lock behind the election: exclusive on both backends, free again once resigned."""
    from common.leader import Leadership

    url = pg_url if backend == "postgresql" else ""
    dbs = [StateDB(tmp_path / "dossier_state.db") for _ in range(2)]
    for db in dbs:
        db.pg = None
        if url:
            from common.db import PostgresDB

            db.pg = PostgresDB(url, "dossier")

    async def main() -> None:
        a, b = Leadership(dbs[0], "notifier"), Leadership(dbs[1], "notifier")
        assert await a.ensure() and await a.ensure()
        assert not await b.ensure()
        await a.resign()
        assert await b.ensure() and not await a.ensure()
        await b.resign()

    asyncio.run(main())
