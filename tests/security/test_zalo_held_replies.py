# mypy: allow-untyped-defs
"""Zalo's interaction window: a user's new message releases their held replies at once (issue 11 §6)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from connectors_fakes import wait_until, zalo_text_event

from common.messages import BotMessage
from connectors.gateway import GATEWAY_KEY


async def _hold_first_reply(stack, uid: str, msg_id: str) -> None:
    """The first reply to ``uid`` meets -230 and stays queued for an hour."""
    stack.zalo.forced_errors = [-230]
    await stack.zalo_event(zalo_text_event(uid, "một", msg_id))
    await wait_until(lambda: stack.zalo.attempts >= 1 and not stack.zalo.forced_errors)
    await asyncio.sleep(0.1)
    assert stack.zalo.sent == []


async def _until_nothing_pending(stack, timeout: float = 8.0) -> None:
    """Wait until the gateway's outbox holds no pending Zalo item."""
    store = stack.app[GATEWAY_KEY].store
    deadline = asyncio.get_running_loop().time() + timeout
    while (await store.pending_counts()).get("zalo"):
        assert asyncio.get_running_loop().time() < deadline, "a Zalo reply stayed pending"
        await asyncio.sleep(0.02)


def _texts_to(stack, uid: str) -> list[str]:
    return [b["message"].get("text", "") for b in stack.zalo.sent if b["recipient"]["user_id"] == uid]


async def test_new_message_releases_held_reply_at_once_then_new_answer(stack):
    await _hold_first_reply(stack, "u2001", "w1")
    await stack.zalo_event(zalo_text_event("u2001", "hai", "w2"))
    await wait_until(lambda: len(_texts_to(stack, "u2001")) == 2, timeout=8.0)
    assert _texts_to(stack, "u2001") == ["Bạn nói: một", "Bạn nói: hai"]
    await _until_nothing_pending(stack)  # the fake records a send before the outbox marks the item sent


async def test_stale_held_answer_dropped_stale_push_sent_marked(stack):
    await _hold_first_reply(stack, "u2002", "w3")
    gateway = stack.app[GATEWAY_KEY]
    await gateway.push_messages("zalo:u2002", [BotMessage("Hồ sơ của anh/chị đã có kết quả.")])
    await asyncio.sleep(0.2)
    assert stack.zalo.sent == []  # the push waits behind the held reply
    with contextlib.closing(sqlite3.connect(stack.settings.gateway_db)) as db:  # both were queued an hour ago
        db.execute("UPDATE outbox SET created = created - 3600")
        db.commit()
    await stack.zalo_event(zalo_text_event("u2002", "hai", "w4"))
    await wait_until(lambda: len(_texts_to(stack, "u2002")) == 2, timeout=8.0)
    late, fresh = _texts_to(stack, "u2002")
    assert late.startswith("(Tin nhắn lúc ") and late.endswith("gửi chậm) Hồ sơ của anh/chị đã có kết quả.")
    assert fresh == "Bạn nói: hai"
    with contextlib.closing(sqlite3.connect(stack.settings.gateway_db)) as db:
        dead = db.execute("SELECT payload, last_error FROM outbox WHERE status = 'dead'").fetchall()
    assert len(dead) == 1 and "Bạn nói: một" in dead[0][0] and dead[0][1].startswith("superseded")
    await asyncio.sleep(0.2)
    assert "Bạn nói: một" not in _texts_to(stack, "u2002")


async def test_other_users_held_replies_stay_held(stack):
    await _hold_first_reply(stack, "u2003", "w5")
    await stack.zalo_event(zalo_text_event("u2004", "xin chào", "w6"))
    await wait_until(lambda: len(_texts_to(stack, "u2004")) == 1)
    await asyncio.sleep(0.2)
    assert _texts_to(stack, "u2003") == []
    assert (await stack.app[GATEWAY_KEY].store.pending_counts()).get("zalo") == 1
