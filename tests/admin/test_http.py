# mypy: allow-untyped-defs
"""Admin console over HTTP: login, lock-out, CSRF, roles on every route, catalogue, import, inboxes, audit."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import FormData
from conftest import CSRF_RE

from admin import ROUTES
from admin.store import AdminStore
from bot.actions.procedures import ActionAnswerProcedure
from desk.handoffs import HandoffQueue
from desk.unanswered import UnansweredInbox
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue

ROLES = ("viewer", "editor", "admin")
# The least role each route needs. A route added without a line here fails test_route_table_is_complete.
EXPECTED = {
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("POST", "/logout"): "viewer",
    ("GET", "/"): "viewer",
    ("GET", "/account"): "viewer",
    ("POST", "/account"): "viewer",
    ("GET", "/procedures"): "viewer",
    ("GET", "/new-procedure"): "editor",
    ("POST", "/new-procedure"): "editor",
    ("GET", "/procedures/{code}"): "viewer",
    ("POST", "/procedures/{code}"): "editor",
    ("POST", "/procedures/{code}/retire"): "editor",
    ("GET", "/procedures/{code}/history"): "viewer",
    ("POST", "/procedures/{code}/rollback"): "editor",
    ("GET", "/import"): "editor",
    ("POST", "/import"): "editor",
    ("POST", "/import/apply"): "editor",
    ("GET", "/index"): "viewer",
    ("GET", "/index/status"): "viewer",
    ("POST", "/index/rebuild"): "editor",
    ("GET", "/unanswered"): "viewer",
    ("POST", "/unanswered/link"): "editor",
    ("POST", "/unanswered/dismiss"): "editor",
    ("GET", "/handoffs"): "viewer",
    ("GET", "/handoffs/{id}"): "viewer",
    ("POST", "/handoffs/{id}/handled"): "editor",
    ("POST", "/handoffs/{id}/reply"): "editor",
    ("GET", "/desk"): "viewer",
    ("GET", "/desk/queue"): "viewer",
    ("GET", "/desk/events"): "viewer",
    ("GET", "/desk/recent"): "viewer",
    ("GET", "/desk/sessions/{id}"): "viewer",
    ("GET", "/desk/sessions/{id}/answer"): "viewer",
    ("POST", "/desk/sessions/{id}/claim"): "editor",
    ("POST", "/desk/sessions/{id}/transfer"): "editor",
    ("POST", "/desk/sessions/{id}/reply"): "editor",
    ("POST", "/desk/sessions/{id}/note"): "editor",
    ("POST", "/desk/sessions/{id}/close"): "editor",
    ("POST", "/desk/take"): "editor",
    ("GET", "/desk/history"): "viewer",
    ("GET", "/desk/export"): "editor",
    ("GET", "/audit"): "admin",
    ("GET", "/users"): "admin",
    ("POST", "/users"): "admin",
    ("POST", "/users/{username}"): "admin",
}
RANK = {"viewer": 1, "editor": 2, "admin": 3}


def procedure_form(page: str) -> dict[str, str]:
    """Every named input/textarea value of the procedure form, as a browser would submit it."""
    values: dict[str, str] = {}
    for match in re.finditer(r"<input ([^>]*)>", page):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', match.group(1)))
        if "name" not in attrs or attrs.get("type") == "file":
            continue
        if attrs.get("type") == "checkbox":
            if "checked" in match.group(1).split():
                values[attrs["name"]] = attrs.get("value", "on")
            continue
        values[attrs["name"]] = unescape(attrs.get("value", ""))
    for match in re.finditer(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        values[match.group(1)] = unescape(match.group(2))
    return values


def unescape(text: str) -> str:
    import html

    return html.unescape(text)


async def edit(browser, code: str, **changes: str):
    page = await (await browser.get(f"/admin/procedures/{code}")).text()
    values = procedure_form(page)
    values.update(changes)
    values["csrf_token"] = browser.csrf
    return await browser.post(f"/admin/procedures/{code}", values)


async def answer(catalogue: Catalogue, text: str) -> str:
    """What the real action answers (keyword search, facts read from storage)."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    action = ActionAnswerProcedure(KnowledgeService(catalogue))
    message = {"text": text, "intent": {"name": "ask_procedure"}, "entities": [], "metadata": {"channel": "web"}}
    tracker = Tracker.from_dict({"sender_id": "web:abcdefgh", "slots": {}, "latest_message": message,
                                 "events": [{"event": "user", "text": text, "parse_data": message}], "paused": False,
                                 "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"})
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker, {})
    return "\n".join(m["text"] for m in dispatcher.messages)


# --------------------------------------------------------------------------- login, lock-out, CSRF


async def test_wrong_password_is_refused_and_audited(browser, data_dir: Path):
    response = await browser.login("editor", "not-the-password")
    assert response.status == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in await response.text()
    assert "tthc_admin" not in {c.key for c in browser.client.session.cookie_jar}
    assert (await browser.get("/admin/procedures", allow_redirects=False)).status == 303
    entries = AdminStore(data_dir / "admin.db").audit_entries(action="login.failed")
    assert entries and entries[0]["target"] == "editor"


async def test_unknown_user_gets_the_same_answer(browser):
    response = await browser.login("nobody", "whatever-password")
    assert response.status == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in await response.text()


async def test_lockout_after_repeated_failures(browser, make_browser):
    for _ in range(5):
        assert (await browser.login("editor", "wrong-password")).status == 401
    locked = await browser.login("editor")  # the right password no longer helps
    assert locked.status == 429
    assert "tạm khóa" in await locked.text()
    other = await make_browser()
    assert (await other.login("viewer")).status == 303  # other accounts are not affected


async def test_login_form_needs_its_csrf_token(browser):
    await browser.get("/admin/login")
    response = await browser.client.post("/admin/login", data={"username": "admin", "password": "admin-pass-123456"},
                                         allow_redirects=False)
    assert response.status == 403
    forged = await browser.client.post("/admin/login", data={"csrf_token": "forged", "username": "admin",
                                                              "password": "admin-pass-123456"},
                                       allow_redirects=False)
    assert forged.status == 403


async def test_session_cookie_flags(browser):
    page = await browser.client.get("/admin/login")
    token = CSRF_RE.search(await page.text()).group(1)
    response = await browser.client.post(
        "/admin/login", data={"csrf_token": token, "username": "admin", "password": "admin-pass-123456"},
        headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)
    assert response.status == 303
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("tthc_admin="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie and "Path=/admin" in cookie
    plain = await browser.login("viewer")
    cookie = next(v for k, v in plain.headers.items() if k == "Set-Cookie" and v.startswith("tthc_admin="))
    assert "Secure" not in cookie  # plain http on 127.0.0.1 (Secure would make the browser drop it)


async def test_missing_or_forged_csrf_is_403_and_changes_nothing(browser, make_browser, catalogue: Catalogue):
    await browser.login("editor")
    page = await (await browser.get("/admin/procedures/1.004194")).text()
    values = procedure_form(page) | {"title": "Tên bị sửa trái phép"}
    values.pop("csrf_token")
    assert (await browser.post("/admin/procedures/1.004194", values, csrf=False)).status == 403
    assert (await browser.post("/admin/procedures/1.004194", values | {"csrf_token": "x" * 43})).status == 403
    assert (await browser.post("/admin/procedures/1.004194/retire", {"retired": "1"}, csrf=False)).status == 403
    assert (await browser.post("/admin/logout", csrf=False)).status == 403
    assert catalogue.get("1.004194").title == "Đăng ký tạm trú"
    assert not catalogue.get("1.004194").retired
    # a token from another session is forged too
    other = browser.csrf
    browser = await make_browser()
    await browser.login("admin")
    assert other != browser.csrf
    replayed = await browser.post("/admin/procedures/1.004194/retire", {"retired": "1", "csrf_token": other})
    assert replayed.status == 403
    # multipart upload checks its token as well
    form = FormData()
    form.add_field("csrf_token", "forged")
    form.add_field("file", io.BytesIO(b"[]"), filename="x.yml")
    assert (await browser.client.post("/admin/import", data=form, allow_redirects=False)).status == 403


# --------------------------------------------------------------------------- roles on every route


def test_route_table_is_complete():
    assert {(r.method, r.path): r.role for r in ROUTES} == EXPECTED


def _path(template: str, handoff_id: int) -> str:
    return (template.replace("{code}", "1.004194").replace("{id}", str(handoff_id))
            .replace("{username}", "nobody"))


async def _request(browser, method: str, path: str) -> Any:
    if method == "GET":
        return await browser.get(path, allow_redirects=False)
    if path == "/admin/import":
        form = FormData()
        form.add_field("csrf_token", browser.csrf)
        form.add_field("file", io.BytesIO(b"- code: '9.000001'\n  title: Thu tuc thu\n"), filename="x.yml")
        return await browser.client.post(path, data=form, allow_redirects=False)
    return await browser.post(path, {})


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_roles_on_every_route(role, browser, data_dir: Path):
    handoff_id = HandoffQueue(data_dir / "handoff.db").add("web:abcdefgh12", "web", [{"from": "user", "text": "a"}])
    if role:
        assert (await browser.login(role)).status == 303
    checked = 0
    for route in ROUTES:
        if route.path in ("/logout", "/login"):
            continue
        path = "/admin" + _path(route.path, handoff_id)
        response = await _request(browser, route.method, path)
        needed = route.role
        allowed = needed is None or (role is not None and RANK[role] >= RANK[needed])
        if allowed:
            assert response.status not in (401, 403), (role, route)
            assert response.headers.get("Location", "").find("/admin/login") < 0, (role, route)
        elif role is None:
            assert response.status in (303, 401), (role, route)
            if response.status == 303:
                assert response.headers["Location"].startswith("/admin/login"), route
        else:
            assert response.status == 403, (role, route)
        checked += 1
    assert checked == len(ROUTES) - 3
    if role:
        assert (await browser.post("/admin/logout")).status == 303
        assert (await browser.get("/admin/", allow_redirects=False)).status == 303


# --------------------------------------------------------------------------- catalogue


async def test_edit_fee_reaches_the_bot_at_once(browser, catalogue: Catalogue):
    assert "15.000 đồng" in await answer(catalogue, "lệ phí đăng ký tạm trú bao nhiêu")
    await browser.login("editor")
    response = await edit(browser, "1.004194", **{"ch-0-fee_text": "25.000 đồng", "ch-0-fee_vnd": "25000"})
    assert response.status == 303, await response.text()
    page = await (await browser.get(response.headers["Location"])).text()
    assert "Đã lưu thủ tục 1.004194" in page
    assert catalogue.get("1.004194").channels[0].fee_vnd == 25000
    reply = await answer(catalogue, "lệ phí đăng ký tạm trú bao nhiêu")
    assert "25.000 đồng" in reply and "15.000" not in reply and "1.004194" in reply


async def test_edit_validation_keeps_the_old_facts(browser, catalogue: Catalogue):
    await browser.login("editor")
    mismatch = await edit(browser, "1.004194", **{"ch-0-fee_text": "25.000 đồng"})  # number left at 15000
    assert mismatch.status == 400
    assert "không khớp" in await mismatch.text()
    empty = await edit(browser, "1.004194", title="  ")
    assert empty.status == 400 and "không được để trống" in await empty.text()
    bad = await edit(browser, "1.004194", **{"ch-0-working_days": "ba ngày", "online_url": "javascript:alert(1)"})
    text = await bad.text()
    assert bad.status == 400 and "phải là số" in text and "http://" in text
    assert catalogue.get("1.004194").channels[0].fee_text == "15.000 đồng"


async def test_stale_form_is_refused(browser, catalogue: Catalogue):
    await browser.login("editor")
    page = await (await browser.get("/admin/procedures/1.004194")).text()
    values = procedure_form(page) | {"summary": "Bản của tôi"}
    proc = catalogue.get("1.004194")
    proc.summary = "Người khác vừa sửa"
    catalogue.upsert(proc)
    response = await browser.post("/admin/procedures/1.004194", values)
    assert response.status == 409
    assert catalogue.get("1.004194").summary == "Người khác vừa sửa"


async def test_add_documents_aliases_and_channel(browser, catalogue: Catalogue):
    await browser.login("editor")
    response = await edit(browser, "1.004194", **{
        "doc-0-name": "Tờ khai thay đổi thông tin cư trú (CT01)", "doc-0-original": "1",
        "ch-1-name": "Trực tuyến", "ch-1-time_text": "2 ngày làm việc", "ch-1-fee_vnd": "7000",
        "aliases": "đăng ký tạm trú\nkhai báo tạm trú\nxin tạm trú", "where_to_submit": "Công an xã",
    })
    assert response.status == 303
    proc = catalogue.get("1.004194")
    assert proc.documents[0].name.startswith("Tờ khai") and proc.documents[0].original == 1
    online = proc.channels[1]
    assert (online.name, online.fee_vnd, online.fee_text) == ("Trực tuyến", 7000, "7.000 đồng")
    assert proc.aliases[-1] == "xin tạm trú" and proc.where_to_submit == "Công an xã"


async def test_add_retire_and_list(browser, catalogue: Catalogue):
    await browser.login("editor")
    page = await (await browser.get("/admin/new-procedure")).text()
    values = procedure_form(page) | {"code": "9.000123", "title": "Cấp bản sao trích lục hộ tịch", "field": "Hộ tịch",
                                     "levels": "Cấp xã", "ch-0-name": "Trực tiếp", "ch-0-fee_vnd": "8000"}
    response = await browser.post("/admin/new-procedure", values)
    assert response.status == 303
    assert catalogue.get("9.000123").channels[0].fee_text == "8.000 đồng"
    duplicate = await browser.post("/admin/new-procedure", values)
    assert duplicate.status == 400 and "đã có" in await duplicate.text()
    listing = await (await browser.get("/admin/procedures?field=H%E1%BB%99+t%E1%BB%8Bch")).text()
    assert "9.000123" in listing and "1.001193" in listing and "1.004194" not in listing
    found = await (await browser.get("/admin/procedures?q=trich+luc+ho+tich")).text()
    assert "9.000123" in found
    assert (await browser.post("/admin/procedures/9.000123/retire", {"retired": "1"})).status == 303
    assert catalogue.get("9.000123").retired
    assert KnowledgeService(catalogue).get("9.000123") is None
    assert 'href="/admin/procedures/9.000123"' not in await (await browser.get("/admin/procedures")).text()
    assert 'href="/admin/procedures/9.000123"' in await (await browser.get("/admin/procedures?status=retired")).text()


async def test_history_and_rollback(browser, catalogue: Catalogue, data_dir: Path):
    await browser.login("editor")
    assert (await edit(browser, "1.004194", title="Đăng ký tạm trú (sửa nhầm)")).status == 303
    history = await (await browser.get("/admin/procedures/1.004194/history")).text()
    assert "Tên thủ tục" in history and "admin:editor" in history
    revision = max(rev for rev, *_ in catalogue.versions("1.004194"))
    response = await browser.post("/admin/procedures/1.004194/rollback", {"revision": str(revision)})
    assert response.status == 303
    assert catalogue.get("1.004194").title == "Đăng ký tạm trú"
    assert (await browser.post("/admin/procedures/1.004194/rollback", {"revision": "9999"})).status == 400
    entries = AdminStore(data_dir / "admin.db").audit_entries(target="1.004194")
    assert [e["action"] for e in entries[:2]] == ["procedure.rollback", "procedure.update"]
    assert entries[0]["before"]["title"] == "Đăng ký tạm trú (sửa nhầm)"
    assert entries[0]["after"]["title"] == "Đăng ký tạm trú"


async def test_audit_log_records_who_what_before_after(browser, make_browser, data_dir: Path):
    await browser.login("editor")
    await edit(browser, "1.001193", summary="Khai sinh cho trẻ em mới sinh.")
    entry = AdminStore(data_dir / "admin.db").audit_entries(action="procedure.update")[0]
    assert entry["username"] == "editor" and entry["target"] == "1.001193"
    assert entry["before"]["summary"] == "" and entry["after"]["summary"] == "Khai sinh cho trẻ em mới sinh."
    assert entry["at"] > 0
    assert (await browser.get("/admin/audit")).status == 403  # editors cannot read the audit log
    admin = await make_browser()
    await admin.login("admin")
    page = await (await admin.get("/admin/audit?action=procedure.update")).text()
    assert "Khai sinh cho trẻ em mới sinh." in page and "editor" in page and "Tóm tắt" in page


# --------------------------------------------------------------------------- import


def _upload(browser, name: str, content: bytes) -> Any:
    form = FormData()
    form.add_field("csrf_token", browser.csrf)
    form.add_field("format", "")
    form.add_field("file", io.BytesIO(content), filename=name)
    return browser.client.post("/admin/import", data=form, allow_redirects=False)


async def test_import_dry_run_then_apply(browser, catalogue: Catalogue, data_dir: Path):
    await browser.login("editor")
    before = catalogue.revision()
    records = [
        {"code": "1.004194", "title": "Đăng ký tạm trú", "field": "Cư trú", "summary": "Tóm tắt mới từ tệp."},
        {"code": "9.100001", "title": "Thủ tục mới từ tệp", "field": "Thử nghiệm"},
    ]
    response = await _upload(browser, "moi.yml", yaml.safe_dump(records, allow_unicode=True).encode())
    page = await response.text()
    assert response.status == 200
    assert re.search(r"Sẽ thêm <b>1</b>, cập nhật <b>1</b>", page)
    assert catalogue.revision() == before and catalogue.get("9.100001") is None  # a dry run changes nothing
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    applied = await browser.post("/admin/import/apply", {"token": token})
    assert applied.status == 303
    assert catalogue.revision() > before
    assert catalogue.get("9.100001").title == "Thủ tục mới từ tệp"
    assert catalogue.get("1.004194").summary == "Tóm tắt mới từ tệp."
    assert (await browser.post("/admin/import/apply", {"token": token})).status == 400  # used once
    entry = AdminStore(data_dir / "admin.db").audit_entries(action="import.apply")[0]
    assert entry["after"]["added"] == ["9.100001"] and entry["before"]["revision"] == before
    assert not list((data_dir / "admin_uploads").iterdir())


async def test_broken_import_changes_nothing(browser, catalogue: Catalogue):
    await browser.login("editor")
    before = catalogue.revision()
    records = [{"code": "9.100002", "title": "Hợp lệ"}, {"code": "9.100003", "title": ""}]
    response = await _upload(browser, "hong.json", json.dumps(records).encode())
    page = await response.text()
    assert response.status == 400
    assert "Tệp bị từ chối" in page and "9.100003" in page
    assert 'name="token"' not in page
    junk = await _upload(browser, "rac.jsonl", b'{"ma_thu_tuc": "1"}\nnot json\n')
    assert junk.status == 400
    unknown = await _upload(browser, "virus.exe", b"MZ")
    assert unknown.status == 400
    assert catalogue.revision() == before and catalogue.get("9.100002") is None


# --------------------------------------------------------------------------- index rebuild


async def test_rebuild_runs_in_background_with_progress(browser, data_dir: Path):
    await browser.login("editor")
    response = await browser.post("/admin/index/rebuild")
    assert response.status == 303
    state: dict[str, Any] = {}
    for _ in range(200):
        state = await (await browser.get("/admin/index/status")).json()
        if state["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert state["status"] == "done" and state["percent"] == 100
    assert state["total"] == 10 and state["done"] == 10
    assert any("published v1" in line for line in state["lines"])
    page = await (await browser.get("/admin/index")).text()
    assert "Hoàn tất" in page and 'id="stale"' in page  # the fake build publishes nothing
    await asyncio.sleep(0.1)
    actions = [e["action"] for e in AdminStore(data_dir / "admin.db").audit_entries()]
    assert "index.rebuild" in actions and "index.rebuild.finished" in actions


# --------------------------------------------------------------------------- unanswered inbox


async def test_unanswered_grouped_linked_and_dismissed(browser, catalogue: Catalogue):
    for text in ("xin tam tru cho nguoi thue tro", "Xin tạm trú cho người thuê trọ", "xin tam tru nguoi thue tro o dau",
                 "con meo nha toi bi lac"):
        UnansweredInbox(catalogue.engine).log(text, channel="web", sender_id="web:abcdefgh")
    await browser.login("editor")
    page = await (await browser.get("/admin/unanswered")).text()
    assert "3 lần" in page and "1 lần" in page
    groups = re.findall(r'name="ids" value="([\d,]+)"', page)
    big = next(g for g in groups if g.count(",") == 2)
    small = next(g for g in groups if "," not in g)
    response = await browser.post("/admin/unanswered/link", {"ids": big, "code": "1.004194"})
    assert response.status == 303
    questions = catalogue.get("1.004194").questions
    # the unaccented twin folds to the same words: the accented spelling is kept, once
    assert questions == ["Xin tạm trú cho người thuê trọ", "xin tam tru nguoi thue tro o dau"]
    assert (await browser.post("/admin/unanswered/dismiss", {"ids": small})).status == 303
    assert UnansweredInbox(catalogue.engine).questions("new") == []
    assert {q.status for q in UnansweredInbox(catalogue.engine).questions(None)} == {"linked", "dismissed"}
    assert "Không có câu hỏi nào" in await (await browser.get("/admin/unanswered")).text()
    # the keyword search the bot falls back to picks the new phrasing up at once
    hits = KnowledgeService(catalogue).search("xin tam tru nguoi thue tro o dau")
    assert hits and hits[0].code == "1.004194"


async def test_link_to_unknown_procedure_is_refused(browser, catalogue: Catalogue):
    qid = UnansweredInbox(catalogue.engine).log("hoi gi do", channel="web")
    await browser.login("editor")
    response = await browser.post("/admin/unanswered/link", {"ids": str(qid), "code": "0.000000"})
    assert response.status == 303
    assert UnansweredInbox(catalogue.engine).questions("new")[0].id == qid


# --------------------------------------------------------------------------- handoffs


async def test_handoff_reply_reaches_web_chat_and_is_marked_handled(browser, data_dir: Path):
    queue = HandoffQueue(data_dir / "handoff.db")
    sender = "web:citizen-12345"
    hid = queue.add(sender, "web", [{"from": "user", "text": "cho toi gap nguoi that, sdt 0912345678"}])
    call = queue.add("call:abc-1", "voice", [{"from": "user", "text": "gap tong dai vien"}])
    await browser.login("editor")
    listing = await (await browser.get("/admin/handoffs")).text()
    assert f"#{hid}" in listing and f"#{call}" in listing and "0912345678" not in listing
    page = await (await browser.get(f"/admin/handoffs/{hid}")).text()
    assert "gap nguoi that" in page and "0912345678" not in page
    response = await browser.post(f"/admin/handoffs/{hid}/reply", {"text": "Chào anh/chị, em là cán bộ một cửa.",
                                                                    "handled": "1"})
    assert response.status == 303
    polled = await (await browser.get(f"/api/chat/poll?sender={sender}")).json()
    assert polled["messages"] == [{"text": "Chào anh/chị, em là cán bộ một cửa."}]
    item = queue.get(hid)
    assert item["status"] == "handled" and item["handled_by"] == "editor" and item["replies"][0]["author"] == "editor"
    voice = await browser.post(f"/admin/handoffs/{call}/reply", {"text": "xin chào"})
    assert voice.status == 400
    assert (await browser.post(f"/admin/handoffs/{call}/handled")).status == 303
    assert queue.get(call)["status"] == "handled"
    assert queue.open_requests() == []
    assert (await browser.get("/admin/handoffs/99999")).status == 404


# --------------------------------------------------------------------------- users and accounts


async def test_admin_manages_users(browser, make_browser, data_dir: Path):
    await browser.login("admin")
    response = await browser.post("/admin/users", {"username": "canbo1", "role": "editor",
                                                   "password": "mat-khau-dai-1", "confirm": "mat-khau-dai-1"})
    assert response.status == 303
    weak = await browser.post("/admin/users", {"username": "canbo2", "role": "editor", "password": "ngan",
                                               "confirm": "ngan"})
    assert weak.status == 400
    last_admin = await browser.post("/admin/users/admin", {"role": "viewer", "active": "1"})
    assert last_admin.status == 400 and "ít nhất một" in await last_admin.text()
    other = await make_browser()
    assert (await other.login("canbo1", "mat-khau-dai-1")).status == 303
    assert (await browser.post("/admin/users/canbo1", {"role": "editor", "active": "0"})).status == 303
    assert (await other.get("/admin/", allow_redirects=False)).status == 303  # disabled: session ended
    entries = AdminStore(data_dir / "admin.db").audit_entries(target="canbo1")
    assert "mat-khau" not in json.dumps(entries)


async def test_dashboard_without_any_data(browser, data_dir: Path):
    await browser.login("viewer")
    page = await (await browser.get("/admin/?days=7")).text()
    assert "Chưa có cuộc trò chuyện nào" in page and "Chưa có đánh giá nào" in page
    assert not (data_dir / "tracker.db").exists()  # reading never creates the tracker store
