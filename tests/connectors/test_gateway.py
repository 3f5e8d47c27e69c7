# mypy: allow-untyped-defs
"""Gateway core: web chat API, health, metrics, push, Rasa failures, per-user ordering."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from connectors_fakes import wait_until

from common.messages import BUSY_TEXT

SENDER = "web:0f6e4d1c-8d3e-4b7a-9a61-2f5c8e9b1a01"


async def chat(stack: Any, message: str, sender: str = SENDER) -> Any:
    return await stack.client.post("/api/chat", json={"sender": sender, "message": message})


async def test_web_chat_round_trip(stack):
    resp = await chat(stack, "làm giấy khai sinh cần gì")
    assert resp.status == 200
    body = await resp.json()
    assert body["messages"][0]["text"] == "Bạn nói: làm giấy khai sinh cần gì"
    assert body["messages"][0]["buttons"][0]["title"] == "Hỏi thủ tục"
    call = stack.rasa.calls[-1]
    assert call["sender"] == SENDER
    assert call["metadata"] == {"channel": "web"}


async def test_web_chat_nfc_normalises_decomposed_input(stack):
    decomposed = "lam giấy khai sinh".replace("ấ", "a\u0302\u0301")
    await chat(stack, decomposed)
    assert stack.rasa.calls[-1]["message"] == "lam giấy khai sinh"


async def test_index_page_served(stack):
    resp = await stack.client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert 'lang="vi"' in html and "/static/chat.js" in html
    js = await stack.client.get("/static/chat.js")
    assert js.status == 200


async def test_health_reports_rasa_and_channels(stack):
    body = await (await stack.client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["rasa"]["reachable"] is True
    assert body["channels"] == {"web": True, "telegram": True, "zalo": True, "sms": False}
    stack.rasa.down = True
    body = await (await stack.client.get("/health")).json()
    assert body["status"] == "degraded" and body["rasa"]["reachable"] is False


async def test_channels_without_credentials_are_disabled(make_stack, caplog):
    caplog.set_level(logging.INFO)
    s = await make_stack(telegram_token="", zalo_app_secret="")
    body = await (await s.client.get("/health")).json()
    assert body["channels"] == {"web": True, "telegram": False, "zalo": False, "sms": False}
    assert any("sms disabled" in r.getMessage() for r in caplog.records)
    assert (await s.client.get("/sms/kannel/mo")).status == 404
    assert any("telegram disabled" in r.getMessage() for r in caplog.records)
    assert (await s.tg_update({"update_id": 1})).status == 404


async def test_metrics_exposition(stack):
    await chat(stack, "xin chào")
    text = await (await stack.client.get("/metrics")).text()
    assert 'tthc_gateway_messages_total{channel="web",direction="in"} 1' in text
    assert "tthc_gateway_rasa_latency_seconds_count 1" in text
    assert 'tthc_gateway_http_requests_total{route="/api/chat",status="200"} 1' in text
    assert 'tthc_gateway_outbox_pending{channel="zalo"} 0' in text


async def test_rasa_down_gives_polite_message_and_logged_error(stack, caplog):
    stack.rasa.down = True
    resp = await chat(stack, "số điện thoại 0912345678")
    assert resp.status == 200
    assert (await resp.json())["messages"] == [{"text": BUSY_TEXT}]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "rasa unavailable" in r.getMessage()]
    assert errors
    metrics = await (await stack.client.get("/metrics")).text()
    assert 'tthc_gateway_errors_total{kind="rasa_unavailable"} 1' in metrics


async def test_rasa_unreachable_port(make_stack, caplog):
    s = await make_stack(rasa_url="http://127.0.0.1:9")
    resp = await chat(s, "xin chào")
    assert (await resp.json())["messages"][0]["text"] == BUSY_TEXT


async def test_rasa_timeout(make_stack):
    s = await make_stack(rasa_timeout=0.1)
    s.rasa.delay = 0.5
    resp = await chat(s, "xin chào")
    assert (await resp.json())["messages"][0]["text"] == BUSY_TEXT


async def test_bad_inputs_are_4xx(stack):
    c = stack.client
    cases = [
        await c.post("/api/chat", data=b"{not json", headers={"Content-Type": "application/json"}),
        await c.post("/api/chat", data=b"", headers={"Content-Type": "application/json"}),
        await c.post("/api/chat", data=b"hello", headers={"Content-Type": "text/plain"}),
        await c.post("/api/chat", json=[1, 2]),
        await c.post("/api/chat", json={"sender": "tg:1", "message": "x"}),
        await c.post("/api/chat", json={"sender": SENDER, "message": 5}),
        await c.post("/api/chat", json={"sender": SENDER, "message": "   "}),
        await c.post("/api/chat", json={"sender": SENDER, "message": "a" * 2001}),
        await c.post("/api/chat", data=b'{"a": "' + b"x" * (1024 * 1024 + 10) + b'"}',
                     headers={"Content-Type": "application/json"}),
        await c.get("/api/chat/poll?sender=bad"),
        await c.get("/api/chat"),
    ]
    statuses = [r.status for r in cases]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert statuses[7] == 413
    too_long = await cases[7].json()
    assert "2.000 ký tự" in too_long["message"]
    assert stack.rasa.calls == []


async def test_per_user_ordering_and_parallel_users(stack):
    a, b = "web:userAAAAAAAA", "web:userBBBBBBBB"
    tasks = [asyncio.create_task(chat(stack, "slow:1", a))]
    await asyncio.sleep(0.05)
    tasks.append(asyncio.create_task(chat(stack, "fast:2", a)))
    tasks.append(asyncio.create_task(chat(stack, "fast:3", b)))
    await asyncio.gather(*tasks)
    order = [(c["sender"], c["message"]) for c in stack.rasa.calls]
    # b is not blocked behind a's slow message; a's messages stay in order.
    assert order.index((b, "fast:3")) < order.index((a, "slow:1"))
    assert order.index((a, "slow:1")) < order.index((a, "fast:2"))


def auth(stack: Any) -> dict[str, str]:
    """The push endpoint's Authorization header (the token generated under the stack's data dir)."""
    return {"Authorization": f"Bearer {stack.settings.push_bearer()}"}


async def test_push_to_web_is_polled(stack):
    resp = await stack.client.post("/internal/push", headers=auth(stack), json={
        "sender": SENDER, "messages": [{"text": "Hồ sơ 000.00.20.H57-240101-0001 đã có kết quả.",
                                        "buttons": [{"title": "Xem chi tiết", "payload": "/check_status"}]}]})
    assert resp.status == 202
    polled = await (await stack.client.get(f"/api/chat/poll?sender={SENDER}")).json()
    assert polled["messages"][0]["buttons"][0]["payload"] == "/check_status"
    again = await (await stack.client.get(f"/api/chat/poll?sender={SENDER}")).json()
    assert again["messages"] == []


async def test_push_routes_to_telegram_and_zalo(stack):
    r1 = await stack.client.post("/internal/push", headers=auth(stack),
                                 json={"sender": "tg:42", "messages": [{"text": "Hồ sơ xong"}]})
    r2 = await stack.client.post("/internal/push", headers=auth(stack),
                                 json={"sender": "zalo:777", "messages": [{"text": "Hồ sơ xong"}]})
    assert r1.status == r2.status == 202
    await wait_until(lambda: stack.tg.sent() and stack.zalo.sent)
    assert stack.tg.sent()[0]["chat_id"] == "42"
    assert stack.zalo.sent[0]["recipient"] == {"user_id": "777"}
    assert stack.rasa.calls == []


async def test_push_auth_with_token(make_stack):
    s = await make_stack(push_token="push-secret")
    body = {"sender": SENDER, "messages": [{"text": "x"}]}
    assert (await s.client.post("/internal/push", json=body)).status == 401
    bad = await s.client.post("/internal/push", json=body, headers={"Authorization": "Bearer nope"})
    assert bad.status == 401
    ok = await s.client.post("/internal/push", json=body, headers={"Authorization": "Bearer push-secret"})
    assert ok.status == 202


async def test_push_without_configured_token_uses_the_generated_one(stack):
    body = {"sender": SENDER, "messages": [{"text": "x"}]}
    assert (await stack.client.post("/internal/push", json=body)).status == 401  # even from loopback
    assert (await stack.client.post("/internal/push", json=body, headers=auth(stack))).status == 202


async def test_push_validation(stack):
    c = stack.client
    bad = [
        {"sender": "sms:1", "messages": [{"text": "x"}]},
        {"sender": SENDER, "messages": []},
        {"sender": SENDER, "messages": [{"nothing": 1}]},
        {"sender": SENDER, "messages": "x"},
        {"sender": SENDER, "messages": [{"text": "x"}] * 21},
    ]
    for body in bad:
        assert (await c.post("/internal/push", json=body, headers=auth(stack))).status == 400


async def test_push_to_disabled_channel(make_stack):
    s = await make_stack(telegram_token="")
    r = await s.client.post("/internal/push", headers=auth(s), json={"sender": "tg:1", "messages": [{"text": "x"}]})
    assert r.status == 422
