"""Every store of ours on PostgreSQL (STATE_DB_URL): the same APIs as on SQLite, state shared by replicas."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from admin.store import AdminStore
from common.db import DatabaseError, SqliteDB, to_pg
from common.hashing import Hasher
from connectors.channels.sms_state import SmsState
from connectors.store import Limits, Store, TokenPair
from desk.feedback import FeedbackStore
from desk.handoffs import HandoffQueue
from desk.live import ClaimConflict, LiveDesk
from dossier.audit import AuditLog
from dossier.limits import FailureLimiter
from dossier.store import StateDB
from dossier.subscriptions import Subscription, SubscriptionStore
from dossier.verification import CodeAlerts, VerifiedPairs

HASH = Hasher(b"k" * 32)


@pytest.fixture
def on_pg(pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Point STATE_DB_URL at a fresh migrated database; the stores must then leave tmp_path empty."""
    monkeypatch.setenv("STATE_DB_URL", pg_url)
    yield pg_url
    assert not any(p.suffix in (".db", ".sqlite3") for p in tmp_path.rglob("*")), "a store wrote SQLite"


def test_placeholders_become_psycopg_ones_outside_quotes() -> None:
    """``?`` becomes ``%s`` except inside string literals; a literal ``%`` is doubled."""
    assert to_pg("SELECT '?', x FROM t WHERE a = ? AND b LIKE 'a%'") == (
        "SELECT '?', x FROM t WHERE a = %s AND b LIKE 'a%%'"
    )


def test_limits_are_shared_between_replicas(on_pg: str, tmp_path: Path) -> None:
    """Failures counted by one action server lock the sender out on another (two processes' worth of stores)."""
    a = FailureLimiter(StateDB(tmp_path / "a" / "state.db"), HASH, max_per_sender=3)
    b = FailureLimiter(StateDB(tmp_path / "b" / "state.db"), HASH, max_per_sender=3)
    a.record_failure("zalo:1", "000.00.00.H01-260101-0001")
    b.record_failure("zalo:1", "000.00.00.H01-260101-0002")
    assert not a.check("zalo:1").locked
    a.record_failure("zalo:1", "000.00.00.H01-260101-0003")
    assert b.check("zalo:1").sender_locked and b.check("zalo:1").sender_remaining == 0
    assert not b.check("zalo:2").locked


def test_dossier_state_on_postgres(on_pg: str, tmp_path: Path) -> None:
    """Audit, subscriptions (one push per change), verified pairs and code alerts."""
    db = StateDB(tmp_path / "state.db")
    assert db.dialect == "postgresql"
    audit = AuditLog(db, HASH)
    audit.record("zalo", "zalo:1", "CODE-1", "ok")
    entries = audit.entries()
    assert [e.outcome for e in entries] == ["ok"] and entries[0].sender_hash == HASH("zalo:1")
    subs = SubscriptionStore(db)
    assert subs.subscribe("zalo:1", "zalo", "CODE-1", "PROCESSING")
    assert not subs.subscribe("zalo:1", "zalo", "CODE-1", "PROCESSING")
    sub = subs.for_sender("zalo:1")[0]
    assert sub == Subscription("zalo:1", "CODE-1", "zalo", "PROCESSING")
    assert subs.record_change(sub, "RESULT_RETURNED", {"sender": "zalo:1", "messages": [{"text": "xong"}]})
    assert not subs.record_change(sub, "RESULT_RETURNED", {"sender": "zalo:1", "messages": []})  # a second notifier
    pending = subs.pending()
    assert len(pending) == 1 and pending[0].payload["messages"][0]["text"] == "xong"
    subs.mark_failed_attempt(pending[0].id, "HTTP 502")
    subs.mark_delivered(pending[0].id)
    assert subs.pending() == [] and subs.all() == []  # a final status ends the subscription
    pairs = VerifiedPairs(db, HASH, ttl_s=60)
    pairs.record("zalo:1", "CODE-1", now=1000.0)
    pairs.record("zalo:1", "CODE-1", now=1010.0)
    assert pairs.is_verified("zalo:1", "CODE-1", now=1065.0) and not pairs.is_verified("zalo:2", "CODE-1", 1065.0)
    alerts = CodeAlerts(db)
    assert alerts.raise_alert("CODE-1", until_ts=2000.0, now=1000.0)
    assert not alerts.raise_alert("CODE-1", until_ts=2100.0, now=1001.0)
    assert [(a.code, a.first_ts, a.until_ts) for a in alerts.active(now=1500.0)] == [("CODE-1", 1000.0, 2100.0)]


def test_desk_stores_on_postgres(on_pg: str, tmp_path: Path) -> None:
    """Hand-over queue (one open request per sender, replies, closing, purge) and feedback."""
    queue = HandoffQueue(tmp_path / "handoff.db")
    first = queue.add("tg:1", "telegram", [{"role": "user", "text": "số tôi 0912345678"}])
    assert queue.add("tg:1", "telegram", [{"role": "user", "text": "còn đó không"}]) == first
    second = queue.add("tg:2", "telegram", [])
    assert second != first and queue.counts() == {"open": 2}
    assert "0912345678" not in str(queue.get(first))
    assert queue.add_reply(first, "staff", "Gọi 0912345678 nhé") > 0
    got = queue.get(first)
    assert got is not None and got["replies"][0]["author"] == "staff" and "0912345678" not in got["replies"][0]["text"]
    assert queue.mark_handled(first, "an") and not queue.mark_handled(first, "an")
    assert [r["id"] for r in queue.requests()] == [second, first]
    assert queue.purge_before(10**12) == 2 and queue.counts() == {}
    feedback = FeedbackStore(tmp_path / "feedback.db")
    assert feedback.add("tg:1", "telegram", "answer", "1.000123", "up") > 0
    rows = feedback.rows()
    assert [(r["procedure_code"], r["rating"]) for r in rows] == [("1.000123", "up")]


def test_admin_store_on_postgres(on_pg: str, tmp_path: Path) -> None:
    """Accounts, sessions shared by every gateway replica, lock-out counters, audit and meta."""
    one, two = AdminStore(tmp_path / "a" / "admin.db"), AdminStore(tmp_path / "b" / "admin.db")
    one.create_user("an", "mat-khau-dai-1", "admin")
    token = one.create_session("an")
    session = two.session(token, idle_s=600, max_s=3600)  # a login on one replica is valid on the other
    assert session is not None and session.user.username == "an"
    two.add_failure("an", "ip:1")
    assert one.failures("an", 60) == 1
    assert one.audit("an", "edit", "1.000123", before={"a": 1}, after={"a": 2}) > 0
    assert two.audit_entries()[0]["after"] == {"a": 2}
    one.set_meta("index", "v3")
    assert two.get_meta("index") == "v3"
    with pytest.raises(Exception, match="quản trị"):
        two.update_user("an", active=False)  # never leaves the console without an admin


async def test_sms_and_gateway_state_on_postgres(on_pg: str, tmp_path: Path) -> None:
    """The SMS channel's state and the gateway store: dedupe, callbacks, web inbox, tokens."""
    sms = SmsState(tmp_path / "sms.sqlite3")
    await sms.remember_number("h1", "0912345678")
    await sms.remember_number("h1", "0912345679")
    assert await sms.number("h1") == "0912345679"
    await sms.set_options("h1", ["/a", "/b"])
    assert await sms.option("h1", 2) == "/b"
    assert await sms.take("h1", "in", 3, 4) == 3 and await sms.take("h1", "in", 3, 4) == 1
    assert await sms.first_within("h1", "d", 60) and not await sms.first_within("h1", "d", 60)
    await sms.dlr_sent("r1", "h1")
    await sms.dlr_sent("r1", "h1")
    assert await sms.dlr_report("r1", 1, "ok") and await sms.dlr_status("r1") == 1
    store = Store(tmp_path / "gateway.sqlite3")
    await store.open()
    other = Store(tmp_path / "other" / "gateway.sqlite3")
    await other.open()
    assert await store.mark_seen("telegram", "42") and not await other.mark_seen("telegram", "42")
    cid = await store.put_callback("/check_status", "Tra cứu")
    assert await other.get_callback(cid) == ("/check_status", "Tra cứu")
    await store.push_web("web:1", [{"text": "a"}, {"text": "b"}])
    assert await other.pop_web("web:1") == [{"text": "a"}, {"text": "b"}] and await store.pop_web("web:1") == []
    await store.save_tokens("zalo", TokenPair("acc", "ref", 1.5))
    assert await other.get_tokens("zalo") == TokenPair("acc", "ref", 1.5)
    limits = Limits(per_minute=2, max_queued=10)  # arrivals counted once for both replicas
    items = [await (store, other)[i % 2].accept("sms", f"mo-{i}", "h1", {"text": str(i)}, limits) for i in range(3)]
    assert [item.refused if item else None for item in items] == ["", "", "rate"]
    web = [await (store, other)[i % 2].count_arrival("web", "web:abc", 2) for i in range(3)]
    assert web == [True, True, False]  # web chat's minute, counted outside the inbox, shared as well
    await store.close()
    await other.close()


def test_unmigrated_database_is_a_clear_error(postgres: object, tmp_path: Path) -> None:
    """A replica started before ``python -m common.migrate`` says so instead of failing on a missing table."""
    url = postgres.create_database("unmigrated")  # type: ignore[attr-defined]
    queue = HandoffQueue.__new__(HandoffQueue)
    queue.db = SqliteDB(tmp_path / "handoff.db", namespace="desk", url=url)
    with pytest.raises(DatabaseError, match=r"common\.migrate"):
        queue.counts()


def test_immediate_transactions_serialise_writers_across_connections(on_pg: str, tmp_path: Path) -> None:
    """Check-then-insert under ``immediate`` keeps one open hand-over per sender under concurrent replicas."""
    queues = [HandoffQueue(tmp_path / f"r{i}" / "handoff.db") for i in range(4)]
    ids: list[int] = []
    barrier = threading.Barrier(len(queues))

    def add(queue: HandoffQueue) -> None:
        barrier.wait()
        ids.append(queue.add("zalo:9", "zalo", []))

    threads = [threading.Thread(target=add, args=(q,)) for q in queues]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and queues[0].counts() == {"open": 1}


def test_async_gateway_store_runs_off_the_loop(on_pg: str, tmp_path: Path) -> None:
    """The store's database work never blocks the event loop (it runs on its own thread)."""

    async def main() -> bool:
        store = Store(tmp_path / "gateway.sqlite3")
        await store.open()
        ok = await store.mark_seen("zalo", "1")
        await store.close()
        return ok

    assert asyncio.run(main())


def test_admin_sees_code_alerts_from_postgres(on_pg: str, tmp_path: Path) -> None:
    """The dashboard's list of attacked codes reads PostgreSQL (there is no SQLite file to look for)."""
    from dossier.verification import active_alerts

    CodeAlerts(StateDB(tmp_path / "dossier_state.db")).raise_alert("CODE-9", until_ts=2000.0, now=1000.0)
    assert [a.code for a in active_alerts(tmp_path / "dossier_state.db", now=1500.0)] == ["CODE-9"]


def test_live_desk_is_shared_between_replicas(on_pg: str, tmp_path: Path) -> None:
    """A session opened by an action server is claimed once across gateways; messages and the counter are shared."""
    actions = LiveDesk(tmp_path / "a" / "live.db")
    desk_a, desk_b = LiveDesk(tmp_path / "b" / "live.db"), LiveDesk(tmp_path / "c" / "live.db")
    assert actions.db.dialect == "postgresql"
    seq0 = desk_a.seq()
    session, new = actions.start("zalo:1", "zalo", topic="đổi cccd, số 0912345678",
                                 history=[{"from": "user", "text": "CCCD 012345678901"}])
    assert new and "0912345678" not in session["topic"]
    assert actions.start("zalo:1", "zalo") == (session, False)
    assert desk_b.seq() > seq0 and [s["id"] for s in desk_b.queue()] == [session["id"]]
    assert desk_a.claim(session["id"], "alice")["claimed_by"] == "alice"
    with pytest.raises(ClaimConflict) as conflict:
        desk_b.claim(session["id"], "bob")
    assert conflict.value.holder == "alice"
    with pytest.raises(ClaimConflict):
        desk_b.transfer(session["id"], "bob", "bob")
    assert desk_b.transfer(session["id"], "bob", "bob", force=True)["claimed_by"] == "bob"
    first = desk_b.add_message(session["id"], "staff", "Chào anh")
    second = actions.add_message(session["id"], "citizen", "gọi 0912345678")
    assert second > first
    texts = [m["text"] for m in desk_a.messages(session["id"])]
    assert texts[-2] == "Chào anh" and "0912345678" not in texts[-1] and "012345678901" not in texts[0]
    assert desk_a.get(session["id"])["first_reply_at"] is not None
    assert desk_a.close(session["id"], "bob", "resolved")["status"] == "closed"
    assert desk_b.close(session["id"], "bob", "resolved") is None
    assert actions.live_for("zalo:1") is None
    assert desk_a.stats(0)["answered"] == 1
    assert actions.purge_before(time.time() + 1) == 1 and desk_a.messages(session["id"]) == []


def test_migrations_create_the_catalogue_tables_as_the_code_defines_them(pg_url: str) -> None:
    """Every SQLAlchemy table of ours exists after the migrations with the columns and types the code has."""
    from sqlalchemy import inspect

    from common.db import make_engine
    from desk.unanswered import metadata as inbox_metadata
    from knowledge.store import metadata as catalogue_metadata

    engine = make_engine(pg_url)
    try:
        inspector = inspect(engine)
        for table in [*catalogue_metadata.sorted_tables, *inbox_metadata.sorted_tables]:
            assert inspector.has_table(table.name, schema="public"), table.name
            columns = {c["name"]: c for c in inspector.get_columns(table.name, schema="public")}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                found = columns[column.name]
                assert found["nullable"] == column.nullable, (table.name, column.name)
                want = column.type.compile(dialect=engine.dialect).replace("FLOAT", "DOUBLE PRECISION")
                assert found["type"].compile(dialect=engine.dialect) == want, (table.name, column.name)
            assert {i["name"] for i in inspector.get_indexes(table.name, schema="public")} >= {
                i.name for i in table.indexes if i.name}, table.name
    finally:
        engine.dispose()
