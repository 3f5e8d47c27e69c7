# mypy: allow-untyped-defs
"""One sender flooding the gateway is slowed down, told once, and does not delay anyone else."""

from __future__ import annotations

import asyncio
from typing import Any

from connectors_fakes import tg_text_update, wait_until, zalo_text_event

from connectors.limits import FLOOD_TEXT, WINDOW_S, SenderLimiter

WEB = "web:flood-sender-0001"


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_admits_per_minute_then_again_after_the_window() -> None:
    clock = Clock()
    limiter = SenderLimiter(per_minute=3, max_queued=10, clock=clock)
    assert [limiter.refusal("tg:1", 0) for _ in range(4)] == ["", "", "", "rate"]
    assert limiter.refusal("tg:2", 0) == ""
    assert limiter.should_warn("tg:1") and not limiter.should_warn("tg:1")
    clock.now += WINDOW_S + 0.1
    assert limiter.refusal("tg:1", 0) == ""
    assert limiter.should_warn("tg:1")


def test_limiter_refuses_a_long_queue_and_forgets_old_senders() -> None:
    limiter = SenderLimiter(per_minute=100, max_queued=2, max_senders=3, clock=Clock())
    assert limiter.refusal("a", 1) == "" and limiter.refusal("a", 2) == "queue"
    for sender in "bcde":
        limiter.refusal(sender, 0)
    assert len(limiter._senders) == 3 and "a" not in limiter._senders


async def test_telegram_flood_is_cut_at_the_rate_and_told_once(make_stack: Any) -> None:
    s = await make_stack(sender_max_per_minute=5, sender_max_queued=100)
    for i in range(12):
        assert (await s.tg_update(tg_text_update(500 + i, 77, f"tin {i}"))).status == 200
    assert (await s.tg_update(tg_text_update(600, 88, "người khác"))).status == 200
    await wait_until(lambda: any(c["sender"] == "tg:88" for c in s.rasa.calls))
    await wait_until(lambda: sum(1 for m in s.tg.sent() if m.get("text") == FLOOD_TEXT) == 1)
    await wait_until(lambda: len([c for c in s.rasa.calls if c["sender"] == "tg:77"]) >= 5)
    flooder = [c["message"] for c in s.rasa.calls if c["sender"] == "tg:77"]
    assert flooder == [f"tin {i}" for i in range(5)]
    notices = [m for m in s.tg.sent() if m.get("text") == FLOOD_TEXT]
    assert len(notices) == 1 and str(notices[0]["chat_id"]) == "77"


async def test_zalo_backlog_beyond_the_queue_is_refused(make_stack: Any) -> None:
    s = await make_stack(sender_max_per_minute=100, sender_max_queued=3)
    s.rasa.delay = 0.3
    for i in range(8):
        assert (await s.zalo_event(zalo_text_event("1234567890123", f"hỏi {i}", f"m{i}"))).status == 200
    await wait_until(lambda: any(t == FLOOD_TEXT for t in s.zalo.texts()), timeout=15)
    await wait_until(lambda: len(s.zalo.texts()) >= 3, timeout=15)
    assert len([c for c in s.rasa.calls if c["sender"] == "zalo:1234567890123"]) <= 3


async def test_web_chat_flood_gets_a_polite_429(make_stack: Any) -> None:
    s = await make_stack(sender_max_per_minute=3)
    statuses = []
    for i in range(5):
        resp = await s.client.post("/api/chat", json={"sender": WEB, "message": f"câu {i}"})
        statuses.append(resp.status)
        if resp.status == 429:
            body = await resp.json()
            assert body == {"error": "too_many_messages", "message": FLOOD_TEXT}
    assert statuses == [200, 200, 200, 429, 429]
    other = await s.client.post("/api/chat", json={"sender": "web:another-sender-01", "message": "xin chào"})
    assert other.status == 200


async def test_the_rate_limit_holds_across_replicas(make_stack: Any) -> None:
    """Two gateways on one database: a sender's messages spread over both still get 5 a minute, not 10."""
    replicas = [await make_stack(sender_max_per_minute=5, sender_max_queued=100) for _ in range(2)]
    for i in range(12):
        assert (await replicas[i % 2].tg_update(tg_text_update(700 + i, 78, f"tin {i}"))).status == 200
    await wait_until(lambda: sum(1 for m in replicas[0].tg.sent() if m.get("text") == FLOOD_TEXT) >= 1)
    await wait_until(lambda: len([c for c in replicas[0].rasa.calls if c["sender"] == "tg:78"]) >= 5)
    await asyncio.sleep(0.5)  # room for a sixth, if one had been let through
    flooder = [c["message"] for c in replicas[0].rasa.calls if c["sender"] == "tg:78"]
    assert sorted(flooder) == sorted(f"tin {i}" for i in range(5))


async def test_the_web_chat_rate_limit_holds_across_replicas(make_stack: Any) -> None:
    """Web chat does not go through the inbox; its minute is still counted by both gateways together."""
    replicas = [await make_stack(sender_max_per_minute=3, sender_max_queued=100) for _ in range(2)]
    statuses = [(await replicas[i % 2].client.post("/api/chat", json={"sender": WEB, "message": f"câu {i}"})).status
                for i in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    other = await replicas[1].client.post("/api/chat", json={"sender": "web:another-sender-01", "message": "chào"})
    assert other.status == 200


async def test_refused_messages_do_not_count_as_arrivals(tmp_path: Any) -> None:
    """Only admitted messages use up the minute; a refused one is not stored; the queue limit counts the inbox."""
    from connectors.store import Limits, Store

    store = Store(tmp_path / "gateway.sqlite3")
    await store.open()
    limits = Limits(per_minute=2, max_queued=10)
    items = [await store.accept("telegram", str(i), "9", {}, limits) for i in range(4)]
    assert [(i.recent, i.refused) for i in items if i] == [(0, ""), (1, ""), (2, "rate"), (2, "rate")]
    assert await store.inbox_count() == 2
    assert await store.accept("telegram", "2", "9", {}, limits) is None  # a refused id is still de-duplicated
    other = await store.accept("zalo", "1", "9", {}, limits)
    assert other is not None and other.recent == 0 and not other.refused
    queued = await store.accept("zalo", "2", "9", {}, Limits(per_minute=100, max_queued=1))
    assert queued is not None and queued.refused == "queue"
    await store.close()
