"""What runs around the console's handlers: security headers, HTML error pages and the per-route guard."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from admin import auth
from admin.context import current_session, error_page
from admin.store import ROLE_RANK

log = logging.getLogger("admin")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
ERROR_TEXTS = {404: "Không tìm thấy trang.", 405: "Phương thức không được hỗ trợ.", 413: "Dữ liệu gửi lên quá lớn."}


@web.middleware
async def security_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response; errors become an HTML page without details."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            response = exc
        else:
            response = await error_page(request, exc.status, ERROR_TEXTS.get(exc.status, "Yêu cầu không hợp lệ."))
    except Exception:
        log.exception("admin: unhandled error on %s", request.path)
        response = await error_page(request, 500, "Đã có lỗi xảy ra. Anh/chị thử lại sau.")
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/admin/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if isinstance(response, web.HTTPException):
        raise response
    return response


def guard(role: str, handler: Handler, multipart: bool = False) -> Handler:
    """Wrap ``handler``: login required, CSRF checked on every POST, at least ``role``."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        """Check session, CSRF and role, then run the handler."""
        session = await current_session(request)
        if session is None:
            if request.method == "GET":
                target = request.path_qs if request.path_qs.startswith("/admin/") else "/admin/"
                raise web.HTTPSeeOther(f"/admin/login?next={quote(target)}")
            return await error_page(request, 401, "Phiên đăng nhập đã hết hạn. Anh/chị vui lòng đăng nhập lại.")
        if request.method != "GET" and not multipart and not await auth.csrf_ok(request, session):
            return await error_page(request, 403, "Yêu cầu không hợp lệ (thiếu hoặc sai mã CSRF). "
                                                  "Anh/chị tải lại trang rồi thử lại.")
        if ROLE_RANK.get(session.user.role, 0) < ROLE_RANK[role]:
            return await error_page(request, 403, "Tài khoản của anh/chị không có quyền thực hiện thao tác này.")
        return await handler(request)

    wrapped.__name__ = getattr(handler, "__name__", "handler")
    return wrapped
