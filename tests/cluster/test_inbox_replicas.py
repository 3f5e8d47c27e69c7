"""The durable inbox shared by gateway replicas: each accepted event handled once, in order, if a replica dies too."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from common.settings import REPO_ROOT
from connectors.dispatch import SenderQueues
from connectors.inbox import Inbox
from connectors.metrics import Metrics
from connectors.store import Store


class Answering:
    """A durable channel whose every event is 'answered' by queuing a reply in the outbox, as the gateway does."""

    name = "telegram"
    prefix = "tg"

    def __init__(self, store: Store, handled: list[tuple[str, int, str]], who: str, slow_s: float = 0.0) -> None:
        """Record ``(sender, n, who)`` in ``handled`` for each event."""
        self.store, self.handled, self.who, self.slow_s = store, handled, who, slow_s

    def decode_event(self, data: dict[str, Any]) -> dict[str, Any]:
        """Events are plain dicts here."""
        return data

    async def process(self, event: dict[str, Any]) -> None:
        """Think (``slow_s``), then queue the reply: the inbox item goes in the same transaction."""
        await asyncio.sleep(self.slow_s)
        self.handled.append((event["sender"], event["n"], self.who))
        await self.store.enqueue(self.name, event["sender"], [{"n": event["n"]}])


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every store of the test on one SQLite file (``make run``) or in a fresh PostgreSQL database."""
    if request.param == "sqlite":
        monkeypatch.delenv("STATE_DB_URL", raising=False)
        return ""
    url: str = request.getfixturevalue("pg_url")
    monkeypatch.setenv("STATE_DB_URL", url)
    return url


async def replica(path: Path, handled: list[tuple[str, int, str]], who: str, lease_s: float,
                  slow_s: float = 0.0) -> tuple[Inbox, SenderQueues]:
    """One gateway replica's inbox worker with its own store connection and sender queues."""
    store = Store(path, lease_s=lease_s)
    await store.open()
    queues = SenderQueues()
    inbox = Inbox(store, Metrics(), queues.submit)
    inbox.register(Answering(store, handled, who, slow_s))
    return inbox, queues


async def stop(inbox: Inbox, queues: SenderQueues) -> None:
    """Stop a replica cleanly."""
    await inbox.close()
    await queues.close()
    await inbox.store.close()


async def until(cond: Any, timeout: float) -> None:
    """Wait until ``cond()`` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "not handled in time"
        await asyncio.sleep(0.05)


def queued_replies(store: Store) -> list[tuple[str, int]]:
    """Every reply queued in the outbox, by recipient and then in queue order."""
    with store.db.transaction() as conn:
        rows = conn.execute("SELECT recipient, payload FROM outbox ORDER BY recipient, id").fetchall()
    return [(r[0], int(json.loads(r[1])["n"])) for r in rows]


async def test_a_dead_replicas_events_are_handled_once_in_order_by_another(backend: str, tmp_path: Path) -> None:
    """Replica A accepts four events and dies before handling any: B handles each once, a sender's in order."""
    db = tmp_path / "gateway.sqlite3"
    lease_s = 1.0
    dying = Store(db, lease_s=lease_s)
    await dying.open()
    items = [await dying.accept("telegram", str(k), sender, {"sender": sender, "n": n})
             for k, (sender, n) in enumerate([("u1", 0), ("u2", 0), ("u1", 1), ("u1", 2)])]
    assert [i is not None and i.claimed for i in items] == [True, True, False, False]  # u1's later ones wait
    assert await dying.accept("telegram", "0", "u1", {"sender": "u1", "n": 9}) is None  # a platform's retry
    await dying.close()  # A dies holding u1's and u2's first events: nothing of it runs again
    killed_at = time.monotonic()
    handled: list[tuple[str, int, str]] = []
    inbox, queues = await replica(db, handled, "B", lease_s)
    inbox.start()
    try:
        await until(lambda: len(handled) >= 4, timeout=15)
        took = time.monotonic() - killed_at
        await asyncio.sleep(0.3)
        assert await inbox.store.inbox_count() == 0
    finally:
        await stop(inbox, queues)
    assert [(s, n) for s, n, _ in handled if s == "u1"] == [("u1", 0), ("u1", 1), ("u1", 2)]
    assert sorted((s, n) for s, n, _ in handled) == [("u1", 0), ("u1", 1), ("u1", 2), ("u2", 0)]
    assert took >= lease_s * 0.8  # B waited for A's claims to run out
    check = Store(db)
    await check.open()
    assert queued_replies(check) == [("u1", 0), ("u1", 1), ("u1", 2), ("u2", 0)]  # one reply each
    await check.close()


async def test_a_slow_answer_keeps_its_claim_and_is_not_taken_twice(backend: str, tmp_path: Path) -> None:
    """A replica handling an event for three leases renews its claim: the other replica never handles it."""
    db = tmp_path / "gateway.sqlite3"
    lease_s = 0.6
    handled: list[tuple[str, int, str]] = []
    slow, slow_queues = await replica(db, handled, "slow", lease_s, slow_s=lease_s * 3)
    other, other_queues = await replica(db, handled, "other", lease_s)
    slow.start()
    other.start()
    try:
        item = await slow.store.accept("telegram", "1", "u1", {"sender": "u1", "n": 0})
        assert item is not None
        slow.take(item)
        later = await other.store.accept("telegram", "2", "u1", {"sender": "u1", "n": 1})
        assert later is not None and not later.claimed
        other.take(later)
        await until(lambda: len(handled) >= 2, timeout=15)
        await asyncio.sleep(lease_s * 2)
    finally:
        await stop(slow, slow_queues)
        await stop(other, other_queues)
    assert [(s, n) for s, n, _ in handled] == [("u1", 0), ("u1", 1)]
    assert handled[0][2] == "slow"


async def test_an_event_of_a_replica_killed_mid_answer_is_handled_once(pg_url: str, tmp_path: Path) -> None:
    """A gateway process killed with SIGKILL while it holds an event: a survivor handles it after the lease, once."""
    lease_s = 1.5
    env = {**os.environ, "TTHC_TEST": "1", "PYTHONPATH": str(REPO_ROOT), "STATE_DB_URL": pg_url}
    child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("inbox_replica.py")),
                              str(tmp_path / "dying"), str(lease_s)], env=env, cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["handling", "u1", "0"]
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        os.environ["STATE_DB_URL"] = pg_url
        handled: list[tuple[str, int, str]] = []
        inbox, queues = await replica(tmp_path / "survivor" / "gateway.sqlite3", handled, "survivor", lease_s)
        inbox.start()
        try:
            await until(lambda: len(handled) >= 2, timeout=15)
            await asyncio.sleep(0.3)
        finally:
            await stop(inbox, queues)
    finally:
        os.environ.pop("STATE_DB_URL", None)
        if child.poll() is None:
            child.kill()
    assert [(s, n) for s, n, _ in handled] == [("u1", 0), ("u1", 1)]
