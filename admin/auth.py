"""Sessions, CSRF and role checks for the admin console's routes."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from admin.store import ROLE_RANK, Session

if TYPE_CHECKING:
    from admin.app import Admin

SESSION_COOKIE = "tthc_admin"
LOGIN_COOKIE = "tthc_admin_login"
COOKIE_PATH = "/admin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_KEY: web.RequestKey[Session | None] = web.RequestKey("admin_session")


def secure_cookie(admin: Admin, request: web.Request) -> bool:
    """Whether cookies get the Secure flag (always, never, or when the request came over https)."""
    mode = admin.settings.secure_cookie
    if mode in ("1", "true", "always", "yes"):
        return True
    if mode in ("0", "false", "never", "no"):
        return False
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_cookie(admin: Admin, request: web.Request, response: web.StreamResponse, name: str, value: str,
               path: str = COOKIE_PATH, max_age: int | None = None) -> None:
    """Set an HttpOnly, SameSite=Strict cookie (Secure when behind https)."""
    response.set_cookie(name, value, path=path, httponly=True, samesite="Strict", max_age=max_age,
                        secure=secure_cookie(admin, request))


def new_token() -> str:
    """A random token for cookies and forms."""
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two non-empty strings."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


async def current_session(admin: Admin, request: web.Request) -> Session | None:
    """The logged-in session of this request, or None."""
    if SESSION_KEY in request:
        return request[SESSION_KEY]
    token = request.cookies.get(SESSION_COOKIE, "")
    session = None
    if token:
        session = await asyncio.to_thread(
            admin.store.session, token, admin.settings.session_idle_s, admin.settings.session_max_s
        )
    request[SESSION_KEY] = session
    return session


async def csrf_ok(request: web.Request, session: Session) -> bool:
    """True when the form field (or header) carries the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.content_type == "multipart/form-data":
            return False  # multipart handlers check the token themselves (see guard(..., multipart=True))
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return same(given, session.csrf)


def guard(admin: Admin, role: str, handler: Handler, multipart: bool = False) -> Handler:
    """Wrap ``handler``: login required, CSRF checked on every POST, at least ``role``."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = await current_session(admin, request)
        if session is None:
            if request.method == "GET":
                target = request.path_qs if request.path_qs.startswith("/admin/") else "/admin/"
                raise web.HTTPSeeOther(f"/admin/login?next={quote(target)}")
            return await admin.error_page(request, 401, "Phiên đăng nhập đã hết hạn. Anh/chị vui lòng đăng nhập lại.")
        if request.method != "GET" and not multipart and not await csrf_ok(request, session):
            return await admin.error_page(request, 403, "Yêu cầu không hợp lệ (thiếu hoặc sai mã CSRF). "
                                                        "Anh/chị tải lại trang rồi thử lại.")
        if ROLE_RANK.get(session.user.role, 0) < ROLE_RANK[role]:
            return await admin.error_page(request, 403, "Tài khoản của anh/chị không có quyền thực hiện thao tác này.")
        return await handler(request)

    wrapped.__name__ = getattr(handler, "__name__", "handler")
    return wrapped
