# mypy: allow-untyped-defs
"""The live hand-over over HTTP: web chat, Telegram and Zalo, against the gateway and the Rasa double."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from connectors_fakes import (
    ZALO_APP_ID,
    ZALO_OA_KEY,
    FakeTelegram,
    FakeZalo,
    make_settings,
    tg_text_update,
    wait_until,
    zalo_text_event,
)
from desk_client import Staff
from handover_fakes import RasaDouble

from connectors.app import create_app
from connectors.channels.zalo import compute_signature
from desk.live import LiveDesk
from desk.takeover import BACK_TEXT

WEB = "web:citizen-0001"


def base(server: Any) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def world(data_dir: Path, catalogue: Any, aiohttp_server: Any, aiohttp_client: Any) -> dict[str, Any]:
    """The Rasa double, Telegram and Zalo fakes, the gateway (admin mounted) and two staff clients."""
    rasa, tg, zalo = RasaDouble(catalogue), FakeTelegram(), FakeZalo()
    rs, ts, zs = [await aiohttp_server(x.app()) for x in (rasa, tg, zalo)]
    settings = make_settings(data_dir, base(rs), base(ts), base(zs))
    client = await aiohttp_client(create_app(settings))
    staff = await Staff(client).login("editor")
    other = await Staff(await aiohttp_client(client.server)).login("editor2")
    return {"rasa": rasa, "tg": tg, "zalo": zalo, "client": client, "staff": staff, "other": other,
            "live": LiveDesk(data_dir / "live.db")}


async def say(world: dict[str, Any], text: str, sender: str = WEB) -> list[str]:
    response = await world["client"].post("/api/chat", json={"sender": sender, "message": text})
    assert response.status == 200, await response.text()
    return [m["text"] for m in (await response.json())["messages"]]


async def pushed(world: dict[str, Any], sender: str = WEB) -> list[str]:
    response = await world["client"].get("/api/chat/poll", params={"sender": sender})
    return [m["text"] for m in (await response.json())["messages"]]


async def test_web_chat_take_over_three_each_way_hand_back_context_kept(world):
    rasa, staff, live = world["rasa"], world["staff"], world["live"]
    first = await say(world, "đăng ký tạm trú cần giấy tờ gì")
    assert "1.004194" in " ".join(first)
    started = await say(world, "cho tôi gặp tổng đài viên")
    assert "Anh/chị là người tiếp theo" in started[0] and "phút" in started[0] and "Trở lại trợ lý ảo" in started[0]
    assert rasa.paused[WEB] is True
    assert rasa.events[WEB][-1]["event"] != "action"  # paused by action_handoff: no action_listen after it

    (row,) = await staff.queue()
    assert row["status"] == "waiting" and row["topic"] == {"kind": "procedure", "code": "1.004194"}
    assert row["channel"] == "web" and row["sender"] == WEB
    assert (await staff.post(f"/admin/desk/sessions/{row['id']}/claim")).status == 200
    assert any("cán bộ editor" in t for t in await pushed(world))

    for i in range(3):
        assert await say(world, f"câu hỏi số {i} của tôi") == []  # the bot stays quiet while staff hold it
        response = await staff.post(f"/admin/desk/sessions/{row['id']}/reply", {"text": f"Trả lời số {i} của cán bộ"})
        assert response.status == 200, await response.text()
        assert await pushed(world) == [f"Trả lời số {i} của cán bộ"]
    kinds = [(m["kind"], m["text"]) for m in await staff.messages(row["id"]) if m["kind"] in ("citizen", "staff")]
    assert kinds == [k for i in range(3) for k in (("citizen", f"câu hỏi số {i} của tôi"),
                                                    ("staff", f"Trả lời số {i} của cán bộ"))]
    # Rasa recorded each citizen message in the paused tracker and predicted nothing for it
    paused_at = max(i for i, e in enumerate(rasa.events[WEB]) if e["event"] == "pause")
    after = rasa.events[WEB][paused_at:]
    assert [e["text"] for e in after if e["event"] == "user"] == [f"câu hỏi số {i} của tôi" for i in range(3)]
    assert not any(e["event"] == "action" and e["name"] != "action_listen" for e in after)

    response = await staff.post(f"/admin/desk/sessions/{row['id']}/close", {"outcome": "returned_to_bot"})
    assert response.status == 200, await response.text()
    assert rasa.paused[WEB] is False
    assert BACK_TEXT in await pushed(world)
    answer = " ".join(await say(world, "còn lệ phí thì sao"))
    assert "15.000 đồng" in answer and "1.004194" in answer  # the procedure slot survived the take-over
    assert rasa.staff_lines(WEB) == [("editor", f"Trả lời số {i} của cán bộ") for i in range(3)]
    assert live.get(row["id"])["outcome"] == "returned_to_bot" and live.get(row["id"])["first_reply_at"]


async def test_citizen_phrase_resumes_the_bot(world):
    rasa, live = world["rasa"], world["live"]
    await say(world, "đăng ký khai sinh cần gì")
    await say(world, "gap tong dai vien")
    assert rasa.paused[WEB]
    assert await say(world, "TRO LAI TRO LY AO!") == [BACK_TEXT]
    assert rasa.paused[WEB] is False and live.live_for(WEB) is None
    events = rasa.events[WEB]
    assert [e["event"] for e in events[-3:]] == ["resume", "action", "bot"] and events[-2]["name"] == "action_listen"
    assert "Miễn phí" in " ".join(await say(world, "lệ phí bao nhiêu"))


async def test_two_staff_claiming_one_wins_the_other_is_told(world):
    await say(world, "gặp tổng đài viên")
    (row,) = await world["staff"].queue()
    path = f"/admin/desk/sessions/{row['id']}/claim"
    first, second = await asyncio.gather(world["staff"].post(path), world["other"].post(path))
    statuses = sorted([first.status, second.status])
    assert statuses == [200, 409]
    loser = first if first.status == 409 else second
    winner = "editor" if loser is second else "editor2"
    assert f"Cán bộ {winner} đã nhận" in (await loser.json())["error"]
    assert world["live"].get(row["id"])["claimed_by"] == winner
    # the loser cannot reply either
    loser_staff = world["other"] if winner == "editor" else world["staff"]
    refused = await loser_staff.post(f"/admin/desk/sessions/{row['id']}/reply", {"text": "xin chào"})
    assert refused.status == 409


async def test_transfer_then_only_the_new_holder_replies(world):
    await say(world, "gặp tổng đài viên")
    (row,) = await world["staff"].queue()
    sid = row["id"]
    assert (await world["staff"].post(f"/admin/desk/sessions/{sid}/claim")).status == 200
    assert (await world["staff"].post(f"/admin/desk/sessions/{sid}/transfer", {"to": "viewer"})).status == 400
    assert (await world["staff"].post(f"/admin/desk/sessions/{sid}/transfer", {"to": "editor2"})).status == 200
    assert (await world["staff"].post(f"/admin/desk/sessions/{sid}/reply", {"text": "a"})).status == 409
    assert (await world["other"].post(f"/admin/desk/sessions/{sid}/reply", {"text": "b"})).status == 200
    assert world["rasa"].staff_lines(WEB) == [("editor2", "b")]


async def test_telegram_take_over_and_back(world):
    client, tg, rasa = world["client"], world["tg"], world["rasa"]
    headers = {"X-Telegram-Bot-Api-Secret-Token": "tg_Secret-123"}
    sender = "tg:4242"

    async def write(update_id: int, text: str) -> None:
        response = await client.post("/telegram/webhook", json=tg_text_update(update_id, 4242, text), headers=headers)
        assert response.status == 200

    await write(1, "đăng ký tạm trú cần gì")
    await wait_until(lambda: any("1.004194" in m["text"] for m in tg.sent()))
    await write(2, "gặp tổng đài viên")
    await wait_until(lambda: any("người tiếp theo" in m["text"] for m in tg.sent()))
    (row,) = await world["staff"].queue()
    assert row["channel"] == "telegram"
    assert (await world["staff"].post(f"/admin/desk/sessions/{row['id']}/claim")).status == 200
    for i in range(3):
        await write(10 + i, f"tin nhắn {i}")
        await wait_until(lambda i=i: any(m["text"] == f"tin nhắn {i}" for m in world["live"].messages(row["id"])))
        response = await world["staff"].post(f"/admin/desk/sessions/{row['id']}/reply", {"text": f"đáp {i}"})
        assert response.status == 200
        await wait_until(lambda i=i: any(m["text"] == f"đáp {i}" for m in tg.sent()))
    await write(20, "Trở lại trợ lý ảo")
    await wait_until(lambda: any(m["text"] == BACK_TEXT for m in tg.sent()))
    await write(21, "còn lệ phí thì sao")
    await wait_until(lambda: any("15.000 đồng" in m["text"] for m in tg.sent()))
    assert rasa.staff_lines(sender) == [("editor", f"đáp {i}") for i in range(3)]
    bot_during = [m["text"] for m in tg.sent()]
    assert not any(t.startswith("Xin lỗi") for t in bot_during)


async def test_zalo_reply_outside_the_window_stays_queued_until_the_user_writes(world):
    client, zalo, rasa = world["client"], world["zalo"], world["rasa"]

    async def write(text: str, msg_id: str) -> None:
        event = zalo_text_event("zuser01", text, msg_id)
        raw = json.dumps(event, ensure_ascii=False).encode()
        signature = "mac=" + compute_signature(ZALO_APP_ID, raw, str(event["timestamp"]), ZALO_OA_KEY)
        response = await client.post("/zalo/webhook", data=raw, headers={
            "Content-Type": "application/json", "X-ZEvent-Signature": signature})
        assert response.status == 200

    await write("gặp tổng đài viên", "m1")
    await wait_until(lambda: any("người tiếp theo" in t for t in zalo.texts()))
    (row,) = await world["staff"].queue()
    sender = row["sender"]
    assert sender.startswith("zalo:")
    assert (await world["staff"].post(f"/admin/desk/sessions/{row['id']}/claim")).status == 200
    await wait_until(lambda: any("cán bộ editor" in t for t in zalo.texts()))
    zalo.forced_errors = [-230]  # the interaction window has closed
    response = await world["staff"].post(f"/admin/desk/sessions/{row['id']}/reply", {"text": "đáp ngoài cửa sổ"})
    assert response.status == 200
    await wait_until(lambda: not zalo.forced_errors)
    assert "đáp ngoài cửa sổ" not in zalo.texts()
    await write("tôi vẫn đang chờ", "m2")  # writing again reopens the window: the held reply goes out
    await wait_until(lambda: "đáp ngoài cửa sổ" in zalo.texts())
    assert rasa.staff_lines(sender) == [("editor", "đáp ngoài cửa sổ")]
    assert any(m["text"] == "tôi vẫn đang chờ" for m in world["live"].messages(row["id"]))


async def test_closing_time_before_anyone_claims_keeps_the_request(world, monkeypatch):
    from common.settings import reset_settings

    await say(world, "đăng ký tạm trú cần giấy tờ gì")
    await say(world, "gặp tổng đài viên")
    monkeypatch.setenv("DESK_OPEN_UNTIL", "00:00")  # the desk closes with the citizen still waiting
    reset_settings()
    replies = await say(world, "còn lệ phí thì sao")
    assert "hết giờ làm việc" in replies[0] and "15.000 đồng" in " ".join(replies[1:])
    assert world["rasa"].paused[WEB] is False
    (row,) = await world["staff"].queue()
    assert row["status"] == "offline"
    assert world["live"].live_for(WEB) is None
