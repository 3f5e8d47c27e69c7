"""People: one's own account, the accounts and roles, and the audit log of who changed what."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from admin import auth, forms
from admin.context import (
    CONSOLE_KEY,
    PAGE_SIZE,
    audit,
    error_page,
    flash,
    parse_page,
    read_form,
    render,
    set_cookie,
    username,
)
from admin.store import ROLES, UserError


def _short(value: Any, limit: int = 400) -> str:
    """A JSON-ish rendering of an audit value, cut."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audit_changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """``(field, before, after)`` rows for an audit entry."""
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        keys = sorted(set(b) | set(a))
        return [(forms.FIELD_LABELS.get(k, k), _short(b.get(k, "")), _short(a.get(k, "")))
                for k in keys if b.get(k) != a.get(k)]
    if before is None and after is None:
        return []
    return [("", _short(before if before is not None else ""), _short(after if after is not None else ""))]


async def account_page(request: web.Request) -> web.StreamResponse:
    """Change one's own password."""
    return await render(request, "account.html", error="")


async def account_submit(request: web.Request) -> web.StreamResponse:
    """Check the current password, set the new one, start a fresh session."""
    store = request.app[CONSOLE_KEY].store
    form = await read_form(request)
    me = username(request)
    if await asyncio.to_thread(store.check_password, me, form.get("current", "")) is None:
        return await render(request, "account.html", http_status=400, error="Mật khẩu hiện tại không đúng.")
    if form.get("new", "") != form.get("confirm", ""):
        return await render(request, "account.html", http_status=400, error="Hai lần nhập mật khẩu mới không khớp.")
    try:
        await asyncio.to_thread(store.set_password, me, form.get("new", ""))
    except UserError as exc:
        return await render(request, "account.html", http_status=400, error=str(exc))
    await audit(request, "account.password", me)
    token = await asyncio.to_thread(store.create_session, me)
    response = web.HTTPSeeOther("/admin/")
    set_cookie(request, response, auth.SESSION_COOKIE, token)
    raise response


async def audit_page(request: web.Request) -> web.StreamResponse:
    """The audit log (who, when, what, before/after), filterable."""
    action = request.query.get("action", "")[:64]
    target = request.query.get("target", "")[:200]
    who = request.query.get("username", "")[:64]
    page = parse_page(request)
    entries = await asyncio.to_thread(request.app[CONSOLE_KEY].store.audit_entries, PAGE_SIZE + 1,
                                      (page - 1) * PAGE_SIZE, action, target, who)
    rows = [e | {"changes": audit_changes(e["before"], e["after"])} for e in entries[:PAGE_SIZE]]
    params = {"action": action, "target": target, "username": who}
    return await render(request, "audit.html", rows=rows, page=page, more=len(entries) > PAGE_SIZE,
                        action=action, target=target, username=who,
                        query=lambda p: urlencode({**params, "page": p}))


async def _users_page(request: web.Request, error: str = "", http_status: int = 200) -> web.Response:
    """The accounts page, with an error when a change was refused."""
    users = await asyncio.to_thread(request.app[CONSOLE_KEY].store.users)
    return await render(request, "users.html", http_status=http_status, users=users, error=error, roles=ROLES)


async def users(request: web.Request) -> web.StreamResponse:
    """Accounts and roles."""
    return await _users_page(request)


async def user_create(request: web.Request) -> web.StreamResponse:
    """Create an account."""
    store = request.app[CONSOLE_KEY].store
    form = await read_form(request)
    if form.get("password", "") != form.get("confirm", ""):
        return await _users_page(request, "Hai lần nhập mật khẩu không khớp.", 400)
    try:
        user = await asyncio.to_thread(store.create_user, form.get("username", ""), form.get("password", ""),
                                       form.get("role", ""))
    except UserError as exc:
        return await _users_page(request, str(exc), 400)
    await audit(request, "user.create", user.username, None, {"role": user.role, "active": True})
    await flash(request, f"Đã tạo tài khoản {user.username}.")
    raise web.HTTPSeeOther("/admin/users")


async def user_update(request: web.Request) -> web.StreamResponse:
    """Change a role, (de)activate, or reset a password."""
    store = request.app[CONSOLE_KEY].store
    name = request.match_info["username"]
    form = await read_form(request)
    before = await asyncio.to_thread(store.get_user, name)
    if before is None:
        return await error_page(request, 404, "Không tìm thấy tài khoản.")
    role = form.get("role") or None
    active = {"1": True, "0": False}.get(form.get("active", ""))
    try:
        await asyncio.to_thread(store.update_user, before.username, role, active)
        if form.get("password"):
            await asyncio.to_thread(store.set_password, before.username, form["password"])
    except UserError as exc:
        return await _users_page(request, str(exc), 400)
    after = await asyncio.to_thread(store.get_user, name)
    assert after is not None
    await audit(request, "user.update", name, {"role": before.role, "active": before.active},
                {"role": after.role, "active": after.active, "password_reset": bool(form.get("password"))})
    await flash(request, f"Đã cập nhật tài khoản {name}.")
    raise web.HTTPSeeOther("/admin/users")
