"""The durable inbox through the gateway: stored before the 200, and a dead replica's message answered once."""

from __future__ import annotations

import asyncio
from typing import Any

from connectors_fakes import tg_text_update, wait_until

from connectors.store import Store


async def dead_replica_accepted(settings: Any, update: dict[str, Any]) -> None:
    """Another replica (same database) accepted ``update`` and died holding it: its claim runs out at once."""
    dead = Store(settings.gateway_db, lease_s=0.01)
    await dead.open()
    item = await dead.accept("telegram", str(update["update_id"]), str(update["message"]["chat"]["id"]), update)
    assert item is not None and item.claimed
    await dead.close()


async def test_webhook_event_is_in_the_inbox_until_its_reply_is_queued(make_stack: Any) -> None:
    """The 200 comes after the event is stored; it leaves the inbox once its reply is in the outbox."""
    s = await make_stack()
    s.rasa.delay = 0.5
    assert (await s.tg_update(tg_text_update(1, 555, "xin chào"))).status == 200
    store = Store(s.settings.gateway_db)
    assert await store.inbox_count() == 1  # Rasa is still thinking: a kill -9 now loses nothing
    await wait_until(lambda: len(s.tg.sent()) == 1)
    assert await store.inbox_count() == 0
    await store.close()


async def test_message_of_a_dead_replica_is_asked_once(make_stack: Any) -> None:
    """Rasa never saw it: the surviving replica asks Rasa and sends the answer, once."""
    s = await make_stack(lease_s=1.0)
    await dead_replica_accepted(s.settings, tg_text_update(7, 555, "hộ chiếu"))
    await wait_until(lambda: len(s.tg.sent()) == 1)
    assert s.rasa.texts() == ["hộ chiếu"]
    assert s.rasa.calls[0]["metadata"]["inbox"] == "telegram:7"


async def test_message_rasa_answered_before_its_replica_died_is_not_asked_again(make_stack: Any) -> None:
    """The replica died after Rasa answered, before the reply was queued: the answer comes from the tracker."""
    s = await make_stack(lease_s=1.0)
    async with s.client.session.post(  # what the dying replica did: Rasa answered, the tracker holds it
        f"{s.settings.rasa_url}/webhooks/rest/webhook",
        json={"sender": "tg:555", "message": "hộ chiếu", "metadata": {"channel": "telegram", "inbox": "telegram:7"}},
    ) as resp:
        assert resp.status == 200
    await dead_replica_accepted(s.settings, tg_text_update(7, 555, "hộ chiếu"))
    await wait_until(lambda: len(s.tg.sent()) == 1)
    assert s.rasa.texts() == ["hộ chiếu"]  # Rasa handled it once
    assert s.tg.sent()[0]["text"] == "Bạn nói: hộ chiếu"


async def test_message_rasa_is_still_answering_for_a_dead_replica_is_not_asked_again(make_stack: Any) -> None:
    """Rasa is still busy with the dead replica's request at take-over: its answer is awaited, not asked twice."""
    s = await make_stack(lease_s=1.0)
    s.rasa.delay = 1.0

    async def dying_request() -> None:
        body = {"sender": "tg:555", "message": "hộ chiếu", "metadata": {"channel": "telegram", "inbox": "telegram:8"}}
        async with s.client.session.post(f"{s.settings.rasa_url}/webhooks/rest/webhook", json=body) as resp:
            assert resp.status == 200

    request = asyncio.ensure_future(dying_request())
    await dead_replica_accepted(s.settings, tg_text_update(8, 555, "hộ chiếu"))
    await wait_until(lambda: len(s.tg.sent()) == 1)
    await request
    assert s.rasa.texts() == ["hộ chiếu"]
    assert s.tg.sent()[0]["text"] == "Bạn nói: hộ chiếu"
