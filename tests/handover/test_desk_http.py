# mypy: allow-untyped-defs
"""The desk's routes: roles (a viewer reads, cannot act), CSRF on every form, citizens' text kept inert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from desk_client import Staff
from handover_fakes import RasaDouble

from admin.routes import ROUTES
from connectors.app import create_app
from connectors.config import GatewaySettings
from desk.live import LiveDesk

DESK_POSTS = [r for r in ROUTES if r.path.startswith("/desk") and r.method == "POST"]
DESK_GETS = [r for r in ROUTES if r.path.startswith("/desk") and r.method == "GET" and r.path != "/desk/events"]
RANK = {"viewer": 1, "editor": 2, "admin": 3}
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture
async def desk(data_dir: Path, catalogue: Any, aiohttp_server: Any, aiohttp_client: Any) -> dict[str, Any]:
    rasa = RasaDouble(catalogue)
    server = await aiohttp_server(rasa.app())
    client = await aiohttp_client(create_app(GatewaySettings(data_dir=data_dir, rasa_url=f"http://127.0.0.1:{server.port}"),
                                             channels=[]))
    live = LiveDesk(data_dir / "live.db")
    session, _ = live.start("web:abcdefgh12", "web", history=[{"from": "user", "text": XSS}],
                            topic="procedure:1.004194")
    live.add_message(session["id"], "citizen", XSS)
    return {"client": client, "live": live, "id": session["id"], "rasa": rasa, "make": aiohttp_client}


def path_of(template: str, session_id: int) -> str:
    return "/admin" + template.replace("{id}", str(session_id))


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
async def test_roles_on_every_desk_route(desk, role):
    staff = await Staff(await desk["make"](desk["client"].server)).login(role)
    for route in DESK_GETS:
        response = await staff.client.get(path_of(route.path, desk["id"]))
        expected = 200 if RANK[role] >= RANK[route.role] else 403
        assert response.status == expected, (role, route.path, await response.text())
    for route in DESK_POSTS:
        form = {"text": "x", "to": "editor", "sender": "web:zzzzzzzz99"}
        response = await staff.post(path_of(route.path, desk["id"]), form)
        if RANK[role] < RANK[route.role]:
            assert response.status == 403, route.path
        else:
            assert response.status not in (401, 403), (role, route.path)
    if role == "viewer":
        assert [m["kind"] for m in desk["live"].messages(desk["id"])] == ["history_user", "citizen"]
        assert desk["rasa"].events == {}


async def test_logged_out_gets_nothing(desk):
    client = await desk["make"](desk["client"].server)
    for route in DESK_GETS:
        response = await client.get(path_of(route.path, desk["id"]), allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/admin/login")
    for route in DESK_POSTS:
        assert (await client.post(path_of(route.path, desk["id"]), data={})).status == 401


async def test_csrf_on_every_desk_form(desk):
    staff = await Staff(await desk["make"](desk["client"].server)).login("admin")
    for route in DESK_POSTS:
        data = {"text": "x", "to": "editor", "sender": "web:zzzzzzzz99", "outcome": "resolved"}
        assert (await staff.post(path_of(route.path, desk["id"]), data, csrf=False)).status == 403, route.path
        forged = data | {"csrf_token": "f" * 43}
        assert (await staff.post(path_of(route.path, desk["id"]), forged, csrf=False)).status == 403, route.path
    row = desk["live"].get(desk["id"])
    assert row["claimed_by"] == "" and row["status"] == "waiting"
    assert [m["kind"] for m in desk["live"].messages(desk["id"])] == ["history_user", "citizen"]


async def test_citizen_markup_is_only_data(desk):
    staff = await Staff(await desk["make"](desk["client"].server)).login("viewer")
    page = await (await staff.client.get("/admin/desk")).text()
    assert "onerror" not in page  # the page itself carries no citizen text; the script writes it as text
    script = await (await staff.client.get("/admin/static/desk.js")).text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    response = await staff.client.get(f"/admin/desk/sessions/{desk['id']}")
    assert response.content_type == "application/json"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    texts = [m["text"] for m in (await response.json())["messages"]]
    assert texts == [XSS, XSS]


async def test_reply_bounds_and_closed_sessions(desk):
    staff = await Staff(await desk["make"](desk["client"].server)).login("editor")
    sid = desk["id"]
    assert (await staff.post(f"/admin/desk/sessions/{sid}/claim")).status == 200
    assert (await staff.post(f"/admin/desk/sessions/{sid}/reply", {"text": "   "})).status == 400
    assert (await staff.post(f"/admin/desk/sessions/{sid}/reply", {"text": "a" * 2001})).status == 400
    assert (await staff.post(f"/admin/desk/sessions/{sid}/note", {"text": "chỉ cán bộ thấy"})).status == 200
    assert (await staff.post(f"/admin/desk/sessions/{sid}/close", {"outcome": "nonsense"})).status == 400
    assert (await staff.post(f"/admin/desk/sessions/{sid}/close", {"outcome": "resolved"})).status == 200
    assert (await staff.post(f"/admin/desk/sessions/{sid}/reply", {"text": "muộn"})).status == 409
    assert (await staff.post("/admin/desk/sessions/999/claim")).status == 404
    assert (await staff.post("/admin/desk/take", {"sender": "call:abc"})).status == 400
    notes = [m for m in desk["live"].messages(sid) if m["kind"] == "note"]
    assert notes and notes[0]["author"] == "editor"
    assert desk["rasa"].staff_lines("web:abcdefgh12") == []  # a note never reaches the citizen or the tracker


async def test_staff_pick_a_live_conversation(desk):
    staff = await Staff(await desk["make"](desk["client"].server)).login("editor")
    response = await staff.post("/admin/desk/take", {"sender": "web:pickedup001"})
    assert response.status == 200, await response.text()
    rasa = desk["rasa"]
    assert rasa.paused["web:pickedup001"] is True
    row = desk["live"].get((await response.json())["id"])
    assert row["status"] == "active" and row["claimed_by"] == "editor" and row["started_by"] == "staff"
    pushed = await (await desk["client"].get("/api/chat/poll", params={"sender": "web:pickedup001"})).json()
    assert "cán bộ editor" in pushed["messages"][0]["text"]


async def test_catalogue_answer_for_insertion(desk):
    staff = await Staff(await desk["make"](desk["client"].server)).login("viewer")
    live = desk["live"]
    row, _ = live.start("tg:77", "telegram", topic="dossier:000.00.20.H57-240101-0001")
    body = await (await staff.client.get(f"/admin/desk/sessions/{desk['id']}/answer?facet=fee")).json()
    assert body["code"] == "1.004194" and "15.000 đồng" in body["text"]
    missing = await staff.client.get(f"/admin/desk/sessions/{row['id']}/answer")
    assert missing.status == 404
    asked = await (await staff.client.get(f"/admin/desk/sessions/{row['id']}/answer?code=1.001193")).json()
    assert asked["code"] == "1.001193" and "Miễn phí" in asked["text"]


async def test_events_stream_announces_changes(desk):
    staff = await Staff(await desk["make"](desk["client"].server)).login("viewer")
    response = await staff.client.get("/admin/desk/events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await response.content.readuntil(b"\n\n")
    assert first.startswith(b"retry:")
    change = await response.content.readuntil(b"\n\n")
    assert change.startswith(b"event: change")
    desk["live"].add_message(desk["id"], "citizen", "mới")
    again = await response.content.readuntil(b"\n\n")
    assert again.startswith(b"event: change") and again != change
    response.close()


async def test_recent_conversations_to_pick_from(desk, data_dir: Path):
    import json
    import sqlite3
    import time

    db = sqlite3.connect(data_dir / "tracker.db")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, timestamp REAL,"
               " intent_name TEXT, action_name TEXT, data TEXT)")
    now = time.time()
    rows = [("tg:31337", "user", now - 60, json.dumps({"text": "hỏi về hộ chiếu, sđt 0912345678",
                                                       "metadata": {"channel": "telegram"}})),
            ("web:abcdefgh12", "user", now - 30, json.dumps({"text": "đang được cán bộ giữ"})),
            ("call:xyz", "user", now - 20, json.dumps({"text": "cuộc gọi"})),
            ("zalo:old", "user", now - 7200, json.dumps({"text": "cũ"}))]
    db.executemany("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    staff = await Staff(await desk["make"](desk["client"].server)).login("editor")
    recent = (await staff.json("/admin/desk/recent"))["conversations"]
    assert [c["sender"] for c in recent] == ["tg:31337"]  # held, calls and older ones left out
    assert recent[0]["channel"] == "telegram" and "0912345678" not in recent[0]["last_text"]
    assert (await staff.post("/admin/desk/take", {"sender": "tg:31337"})).status == 200
    assert desk["rasa"].paused["tg:31337"] is True
    assert (await staff.json("/admin/desk/recent"))["conversations"] == []
