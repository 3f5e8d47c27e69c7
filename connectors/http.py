"""HTTP helpers shared by every route of the gateway: JSON errors, JSON bodies, the observing middleware."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from connectors.metrics import Metrics

log = logging.getLogger("connectors")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_JSON_DEPTH = 32  # Telegram's and Zalo's updates nest 5 deep


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` nests lists/objects more than ``limit`` deep (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(raw: bytes) -> Any:
    """Decode a JSON body; raise ValueError for malformed or too deeply nested JSON."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if too_deep(data):
        raise ValueError("JSON nested too deeply")
    return data


def error_json(status: int, code: str, message: str = "") -> web.Response:
    """Build a JSON error response (never a stack trace)."""
    body: dict[str, Any] = {"error": code}
    if message:
        body["message"] = message
    return web.json_response(body, status=status)


async def read_json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """Read a JSON object body, or return the 4xx response to send."""
    if request.content_type != "application/json":
        return error_json(415, "unsupported_media_type", "Content-Type phải là application/json.")
    raw = await request.read()
    if not raw.strip():
        return error_json(400, "empty_body")
    try:
        data = parse_json(raw)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return error_json(400, "invalid_json")
    if not isinstance(data, dict):
        return error_json(400, "invalid_json", "expected a JSON object")
    return data


def observe(metrics: Metrics) -> Middleware:
    """A middleware counting requests by route and status and turning unexpected errors into a plain 500."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Run the handler, count the outcome, never leak a stack trace."""
        resource = request.match_info.route.resource
        route = resource.canonical if resource else "unmatched"
        status = 500
        start = time.perf_counter()
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            if exc.status < 400:
                raise
            resp = error_json(exc.status, exc.reason.lower().replace(" ", "_"))
            for name in ("Allow", "Retry-After"):
                if name in exc.headers:
                    resp.headers[name] = exc.headers[name]
            return resp
        except Exception:
            metrics.errors.inc(kind="http_handler")
            log.exception("unhandled error on %s", route)
            return error_json(500, "internal_error")
        finally:
            metrics.requests.inc(route=route, status=str(status))
            log.debug("%s %s %s %.1fms", request.method, route, status, (time.perf_counter() - start) * 1000)

    return middleware
