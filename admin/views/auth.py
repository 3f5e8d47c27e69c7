"""Logging in and out."""

from __future__ import annotations

import asyncio

from aiohttp import web

from admin import auth
from admin.context import CONSOLE_KEY, audit, current_session, error_page, read_form, render, session_of, set_cookie


async def login_page(request: web.Request) -> web.StreamResponse:
    """The login form (sets a one-time CSRF cookie)."""
    if await current_session(request) is not None:
        raise web.HTTPSeeOther("/admin/")
    token = auth.new_token()
    response = await render(request, "login.html", login_csrf=token, error="",
                            next=request.query.get("next", "/admin/"), username="")
    set_cookie(request, response, auth.LOGIN_COOKIE, token, path="/admin/login", max_age=3600)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check CSRF, lock-out and password; start a session."""
    console = request.app[CONSOLE_KEY]
    store, s = console.store, console.settings
    form = await read_form(request)
    if not auth.same(form.get(auth.CSRF_FIELD), request.cookies.get(auth.LOGIN_COOKIE)):
        return await error_page(request, 403, "Yêu cầu không hợp lệ (thiếu hoặc sai mã CSRF). "
                                              "Anh/chị tải lại trang đăng nhập rồi thử lại.")
    username = form.get("username", "").strip().lower()[:64]
    password = form.get("password", "")[:1024]
    target = form.get("next", "/admin/")
    if not target.startswith("/admin/") or "//" in target or "\\" in target:
        target = "/admin/"
    # Per (account, client) lock-out, per client cap, and only a delay on the account as a whole: an attacker
    # elsewhere can neither lock the owner out nor lock every account from a shared (proxy) address.
    client = auth.client_address(request, s)
    pair_key, client_key, user_key = f"uc:{username}|{client}", f"ip:{client}", f"u:{username}"
    locked = (await asyncio.to_thread(store.failures, pair_key, s.lockout_s) >= s.max_failures
              or await asyncio.to_thread(store.failures, client_key, s.lockout_s) >= s.max_client_failures)

    async def again(status: int, error: str) -> web.Response:
        """The login form again, with an error and a fresh CSRF cookie."""
        token = auth.new_token()
        response = await render(request, "login.html", http_status=status, login_csrf=token, error=error,
                                next=target, username=username)
        set_cookie(request, response, auth.LOGIN_COOKIE, token, path="/admin/login", max_age=3600)
        return response

    if locked:
        await audit(request, "login.locked", username, who="")
        minutes = max(1, s.lockout_s // 60)
        return await again(429, f"Đăng nhập sai quá nhiều lần từ máy này. Đăng nhập tạm khóa, anh/chị thử lại sau "
                                f"{minutes} phút hoặc liên hệ quản trị viên.")
    if await asyncio.to_thread(store.failures, user_key, s.lockout_s) >= s.account_slowdown_failures:
        await asyncio.sleep(s.login_delay_s)
    user = await asyncio.to_thread(store.check_password, username, password)
    if user is None:
        await asyncio.to_thread(store.add_failure, pair_key, client_key, user_key)
        await audit(request, "login.failed", username, who="")
        return await again(401, "Sai tên đăng nhập hoặc mật khẩu.")
    await asyncio.to_thread(store.clear_failures, pair_key)
    token = await asyncio.to_thread(store.create_session, user.username)
    await audit(request, "login", user.username, who=user.username)
    response = web.HTTPSeeOther(target)
    set_cookie(request, response, auth.SESSION_COOKIE, token)
    response.del_cookie(auth.LOGIN_COOKIE, path="/admin/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    session = session_of(request)
    await asyncio.to_thread(request.app[CONSOLE_KEY].store.end_session, session.token_hash)
    await audit(request, "logout", session.user.username)
    response = web.HTTPSeeOther("/admin/login")
    response.del_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
    raise response
