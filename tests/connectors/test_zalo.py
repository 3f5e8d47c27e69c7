# mypy: allow-untyped-defs
"""Zalo OA channel against fake OpenAPI/OAuth servers: MAC, dedupe, tokens, outbox, templates."""

from __future__ import annotations

import asyncio
import time

from connectors_fakes import ZALO_APP_ID, ZALO_OA_KEY, wait_until, zalo_text_event

from common.messages import GREET_PAYLOAD, VOICE_TEXT
from connectors.channels.zalo import TOKEN_NAME, compute_signature, verify_signature
from connectors.gateway import GATEWAY_KEY
from connectors.store import TokenPair


async def test_text_event_answered_with_template_buttons(stack):
    resp = await stack.zalo_event(zalo_text_event("u1001", "làm hộ chiếu cần gì", "m1"))
    assert resp.status == 200
    await wait_until(lambda: len(stack.zalo.sent) == 1)
    call = stack.rasa.calls[0]
    assert call["sender"] == "zalo:u1001" and call["metadata"] == {"channel": "zalo", "inbox": "zalo:m1"}
    sent = stack.zalo.sent[0]
    assert sent["recipient"] == {"user_id": "u1001"}
    assert sent["message"]["text"] == "Bạn nói: làm hộ chiếu cần gì"
    button = sent["message"]["attachment"]["payload"]["buttons"][0]
    assert button["type"] == "oa.query.hide" and button["payload"].startswith("#tthc:")


async def test_signature_variants_accepted(stack):
    event = zalo_text_event("u1002", "a", "m2")
    assert (await stack.zalo_event(event, prefix="")).status == 200
    raw_sig = compute_signature(ZALO_APP_ID, b"{}", "1", ZALO_OA_KEY)
    assert verify_signature("mac=" + raw_sig.upper(), ZALO_APP_ID, b"{}", "1", ZALO_OA_KEY)
    assert verify_signature("MAC=" + raw_sig, ZALO_APP_ID, b"{}", "1", ZALO_OA_KEY)
    assert not verify_signature("mac=" + raw_sig, ZALO_APP_ID, b"{} ", "1", ZALO_OA_KEY)
    assert not verify_signature("", ZALO_APP_ID, b"{}", "1", ZALO_OA_KEY)
    assert not verify_signature("mac=ünïcode", ZALO_APP_ID, b"{}", "1", ZALO_OA_KEY)


async def test_forged_signature_rejected_nothing_forwarded(stack):
    event = zalo_text_event("u1003", "xin chào", "m3")
    forged = "mac=" + compute_signature(ZALO_APP_ID, b"other body", event["timestamp"], ZALO_OA_KEY)
    assert (await stack.zalo_event(event, signature=forged)).status == 401
    wrong_key = "mac=" + compute_signature(ZALO_APP_ID, b"x", event["timestamp"], "app-secret")
    assert (await stack.zalo_event(event, signature=wrong_key)).status == 401
    assert (await stack.zalo_event(event, signature="mac=" + "0" * 64)).status == 401
    await asyncio.sleep(0.1)
    assert stack.rasa.calls == [] and stack.zalo.sent == []


async def test_stale_timestamp_rejected(stack):
    old = int((time.time() - 600) * 1000)
    assert (await stack.zalo_event(zalo_text_event("u1004", "x", "m4", ts_ms=old))).status == 401
    future = int((time.time() + 600) * 1000)
    assert (await stack.zalo_event(zalo_text_event("u1004", "x", "m5", ts_ms=future))).status == 401
    assert stack.rasa.calls == []


async def test_unsigned_console_check_gets_200_without_forwarding(stack):
    resp = await stack.zalo_event(zalo_text_event("u1005", "x", "m6"), signature=None)
    assert resp.status == 200
    empty = await stack.client.post("/zalo/webhook", data=b"")
    assert empty.status == 200
    await asyncio.sleep(0.1)
    assert stack.rasa.calls == []


async def test_duplicate_msg_id_answered_once_even_after_restart(make_stack):
    s1 = await make_stack()
    event = zalo_text_event("u1006", "xin chào", "dup-1")
    for _ in range(3):
        assert (await s1.zalo_event(event)).status == 200
    await wait_until(lambda: len(s1.zalo.sent) == 1)
    await s1.client.close()
    s2 = await make_stack()
    assert (await s2.zalo_event(event)).status == 200
    mid_event = zalo_text_event("u1006", "lần hai", "x")
    mid_event["message"] = {"mid": "dup-2", "text": "lần hai"}
    await s2.zalo_event(mid_event)
    await s2.zalo_event(mid_event)
    await wait_until(lambda: len(s2.zalo.sent) == 2)
    await asyncio.sleep(0.1)
    assert s2.rasa.texts() == ["xin chào", "lần hai"]


async def test_oa_echo_and_receipts_ignored(stack):
    echo = zalo_text_event("u1007", "tin của OA", "m7")
    echo["event_name"] = "oa_send_text"
    assert (await stack.zalo_event(echo)).status == 200
    seen = {"app_id": ZALO_APP_ID, "event_name": "user_seen_message", "timestamp": str(int(time.time() * 1000)),
            "sender": {"id": "u1007"}, "message": {"msg_ids": ["a"]}}
    assert (await stack.zalo_event(seen)).status == 200
    await asyncio.sleep(0.1)
    assert stack.rasa.calls == []


async def test_follow_greets_and_unfollow_is_quiet(stack):
    ts = str(int(time.time() * 1000))
    follow = {"app_id": ZALO_APP_ID, "event_name": "follow", "timestamp": ts, "oa_id": "579",
              "follower": {"id": "u1008"}, "source": "testing"}
    assert (await stack.zalo_event(follow)).status == 200
    await wait_until(lambda: len(stack.zalo.sent) == 1)
    assert stack.rasa.texts() == [GREET_PAYLOAD]
    assert len(stack.zalo.sent[0]["message"]["attachment"]["payload"]["buttons"]) == 2
    unfollow = dict(follow, event_name="unfollow")
    assert (await stack.zalo_event(unfollow)).status == 200
    await asyncio.sleep(0.1)
    assert stack.rasa.texts() == [GREET_PAYLOAD]


async def test_button_tap_maps_back_to_payload(stack):
    await stack.zalo_event(zalo_text_event("u1009", "xin chào", "m9"))
    await wait_until(lambda: len(stack.zalo.sent) == 1)
    payload = stack.zalo.sent[0]["message"]["attachment"]["payload"]["buttons"][0]["payload"]
    await stack.zalo_event(zalo_text_event("u1009", payload, "m10"))
    await wait_until(lambda: len(stack.rasa.calls) == 2)
    assert stack.rasa.texts()[1] == '/ask_procedure{"procedure_code":"1.001193"}'


async def test_audio_gets_text_please(stack):
    event = zalo_text_event("u1010", "x", "m11")
    event["event_name"] = "user_send_audio"
    event["message"] = {"msg_id": "m11", "attachments": [{"type": "audio", "payload": {"url": "https://x/a.aac"}}]}
    assert (await stack.zalo_event(event)).status == 200
    await wait_until(lambda: len(stack.zalo.sent) == 1)
    assert stack.zalo.texts() == [VOICE_TEXT] and stack.rasa.calls == []


async def test_expired_token_refreshed_once_and_reply_delivered(stack):
    stack.zalo.valid_access = {"SOMETHING-ELSE"}  # AT0 is now invalid: -216
    for i in range(3):
        await stack.zalo_event(zalo_text_event(f"u20{i}", "xin chào", f"t{i}"))
    await wait_until(lambda: len(stack.zalo.sent) == 3)
    assert len(stack.zalo.oauth_calls) == 1
    call = stack.zalo.oauth_calls[0]
    assert call == {"app_id": ZALO_APP_ID, "grant_type": "refresh_token", "refresh_token": "RT0"}
    pair = await stack.app[GATEWAY_KEY].store.get_tokens(TOKEN_NAME)
    assert pair.access_token == "AT1" and pair.refresh_token == "RT1"


async def test_token_refreshed_ahead_of_expiry(stack):
    gateway = stack.app[GATEWAY_KEY]
    await gateway.store.save_tokens(TOKEN_NAME, TokenPair("AT0", "RT0", time.time() + 60))
    await stack.zalo_event(zalo_text_event("u2100", "xin chào", "e1"))
    await wait_until(lambda: len(stack.zalo.sent) == 1)
    assert len(stack.zalo.oauth_calls) == 1


async def test_zalo_down_reply_delivered_after_recovery(stack):
    stack.zalo.down = True
    await stack.zalo_event(zalo_text_event("u1011", "xin chào", "m12"))
    await wait_until(lambda: stack.zalo.attempts >= 2)
    gateway = stack.app[GATEWAY_KEY]
    assert (await gateway.store.pending_counts()).get("zalo") == 1
    stack.zalo.down = False
    await wait_until(lambda: len(stack.zalo.sent) == 1)
    assert stack.zalo.texts() == ["Bạn nói: xin chào"]


async def test_outbox_survives_restart(make_stack):
    s1 = await make_stack()
    s1.zalo.down = True
    await s1.zalo_event(zalo_text_event("u1012", "xin chào", "m13"))
    await wait_until(lambda: s1.zalo.attempts >= 1)
    await s1.client.close()
    s1.zalo.down = False
    s2 = await make_stack()
    await wait_until(lambda: len(s2.zalo.sent) == 1)
    assert len(s2.rasa.calls) == 1


async def test_interaction_window_keeps_item_queued(stack):
    stack.zalo.forced_errors = [-230]
    await stack.zalo_event(zalo_text_event("u1013", "xin chào", "m14"))
    await wait_until(lambda: stack.zalo.attempts >= 1 and not stack.zalo.forced_errors)
    await asyncio.sleep(0.1)
    gateway = stack.app[GATEWAY_KEY]
    assert (await gateway.store.pending_counts()).get("zalo") == 1
    assert stack.zalo.sent == []


async def test_per_user_ordering(stack):
    await stack.zalo_event(zalo_text_event("u1014", "slow:một", "o1"))
    await stack.zalo_event(zalo_text_event("u1014", "hai", "o2"))
    await stack.zalo_event(zalo_text_event("u1015", "khác", "o3"))
    await wait_until(lambda: len(stack.zalo.sent) == 3)
    mine = [b["message"]["text"] for b in stack.zalo.sent if b["recipient"]["user_id"] == "u1014"]
    assert mine == ["Bạn nói: slow:một", "Bạn nói: hai"]
    assert stack.zalo.sent[0]["recipient"]["user_id"] == "u1015"


async def test_bad_bodies_are_4xx(stack):
    c = stack.client
    sig = {"X-ZEvent-Signature": "mac=" + "a" * 64}
    cases = [
        await c.post("/zalo/webhook", data=b"{nope", headers={**sig, "Content-Type": "application/json"}),
        await c.post("/zalo/webhook", data=b"", headers={**sig, "Content-Type": "application/json"}),
        await c.post("/zalo/webhook", data=b"[1]", headers={**sig, "Content-Type": "application/json"}),
        await c.post("/zalo/webhook", data=b'{"a":1}', headers={**sig, "Content-Type": "application/json"}),
        await c.post("/zalo/webhook", data="a=1", headers={**sig, "Content-Type": "application/x-www-form-urlencoded"}),
        await c.post("/zalo/webhook", data=b"x" * (1024 * 1024 + 1), headers=sig),
    ]
    statuses = [r.status for r in cases]
    assert all(400 <= s < 500 for s in statuses), statuses
    event = zalo_text_event("u1016", "x", "m15")
    del event["sender"]
    assert (await stack.zalo_event(event)).status == 400
