"""Sessions, cookies and CSRF tokens of the admin console (the route guard is in ``admin.middlewares``)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets

from aiohttp import web

from admin.config import AdminSettings
from admin.store import AdminStore, Session

SESSION_COOKIE = "tthc_admin"
LOGIN_COOKIE = "tthc_admin_login"
COOKIE_PATH = "/admin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY: web.RequestKey[Session | None] = web.RequestKey("admin_session")


def secure_cookie(settings: AdminSettings, request: web.Request) -> bool:
    """Whether cookies get the Secure flag (always, never, or when the request came over https)."""
    mode = settings.secure_cookie
    if mode in ("1", "true", "always", "yes"):
        return True
    if mode in ("0", "false", "never", "no"):
        return False
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_cookie(settings: AdminSettings, request: web.Request, response: web.StreamResponse, name: str, value: str,
               path: str = COOKIE_PATH, max_age: int | None = None) -> None:
    """Set an HttpOnly, SameSite=Strict cookie (Secure when behind https)."""
    response.set_cookie(name, value, path=path, httponly=True, samesite="Strict", max_age=max_age,
                        secure=secure_cookie(settings, request))


def client_address(request: web.Request, settings: AdminSettings) -> str:
    """The client's address: the peer, or the last untrusted hop of X-Forwarded-For when the peer is a trusted proxy."""
    remote = request.remote or ""
    if not _trusted(remote, settings):
        return remote
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "")[-2000:].split(",") if hop.strip()]
    for hop in reversed(hops[-32:]):
        if not _trusted(hop, settings):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a malformed hop: count the request against the proxy itself
    return hops[0] if hops else remote


def _trusted(address: str, settings: AdminSettings) -> bool:
    """True when ``address`` is one of the trusted proxies."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in settings.trusted_proxies)


def new_token() -> str:
    """A random token for cookies and forms."""
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two non-empty strings."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


async def current_session(request: web.Request, store: AdminStore, settings: AdminSettings) -> Session | None:
    """The logged-in session of this request, or None."""
    if SESSION_KEY in request:
        return request[SESSION_KEY]
    token = request.cookies.get(SESSION_COOKIE, "")
    session = None
    if token:
        session = await asyncio.to_thread(store.session, token, settings.session_idle_s, settings.session_max_s)
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
