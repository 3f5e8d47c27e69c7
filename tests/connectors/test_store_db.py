"""The gateway's database work per message: one kept connection, one transaction per reply's buttons."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from common.db import SqliteDB
from connectors.store import Store, callback_id

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"


def test_kept_connection_is_reused_by_its_thread(tmp_path: Path) -> None:
    db = SqliteDB(tmp_path / "g.db", SCHEMA, keep_open=True, durable=True)
    with db.transaction() as first:
        first.execute("INSERT INTO t VALUES (1)")
    with db.transaction() as second:
        assert second is first
        assert second.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    seen: list[sqlite3.Connection] = []

    def other() -> None:
        with db.transaction() as conn:
            seen.append(conn)
        db.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen and seen[0] is not first  # each thread its own connection
    db.close()


def test_failed_transaction_rolls_back_and_drops_the_kept_connection(tmp_path: Path) -> None:
    db = SqliteDB(tmp_path / "g.db", SCHEMA, keep_open=True)
    with db.transaction() as first:
        pass
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")
    with db.transaction() as after:
        assert after is not first
        assert after.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    db.close()


def test_without_keep_open_each_transaction_has_its_own_connection(tmp_path: Path) -> None:
    db = SqliteDB(tmp_path / "g.db", SCHEMA)
    with db.transaction() as first:
        pass
    with db.transaction() as second:
        assert second is not first


async def test_button_callbacks_of_a_message_go_in_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "gateway.db")
    await store.open()
    calls = 0
    original = store._run

    async def counting(fn):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return await original(fn)

    store._run = counting  # type: ignore[method-assign]
    buttons = [(f'/ask_procedure{{"code":"{i}"}}', f"Thủ tục {i}") for i in range(4)]
    ids = await store.put_callbacks(buttons)
    assert calls == 1
    assert ids == [callback_id(p) for p, _ in buttons]
    store._run = original  # type: ignore[method-assign]
    for (payload, title), cid in zip(buttons, ids, strict=True):
        assert await store.get_callback(cid) == (payload, title)
    await store.close()


def test_handover_router_keeps_its_live_desk_connection(tmp_path: Path) -> None:
    from connectors.handover import HandoverRouter

    router = HandoverRouter(tmp_path / "live.db")
    assert router.live.live_for("tg:1") is None
    with router.live.db.transaction() as first:
        pass
    assert router.live.live_for("tg:1") is None
    with router.live.db.transaction() as again:
        assert again is first
    router.live.db.close()
