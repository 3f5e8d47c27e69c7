"""Rasa's REST channel with bounds: ``bot.rest_channel.BoundedRestInput`` in credentials.yml.

Same URL as Rasa's own (``/webhooks/rest/webhook``); a request whose body is too big, whose
``message`` is not a string or is longer than ``max_chars``, or whose ``sender`` is not a short id
is answered 400/413 with a JSON error before Rasa parses or runs anything. Runs inside Rasa
(Python 3.10): imports only Rasa, Sanic (Rasa's server) and ``common.text``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

MAX_CHARS = 2000  # the gateway's web chat cap; Telegram and Zalo messages are shorter
MAX_BODY_BYTES = 64 * 1024
# Sender ids (``tg:…``, ``zalo:…``, ``web:…``, ``call:<SIP Call-ID>``): short, no control characters.
SENDER_RE = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


def _error(status: int, code: str, message: str) -> HTTPResponse:
    """A JSON error response."""
    return response.json({"error": code, "message": message}, status=status)


class BoundedRestInput(RestInput):
    """The REST channel, refusing over-long or malformed messages before Rasa handles them."""

    def __init__(self, max_chars: int = MAX_CHARS, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        """Refuse messages over ``max_chars`` characters and bodies over ``max_body_bytes``."""
        self.max_chars = max_chars
        self.max_body_bytes = max_body_bytes

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's URL: ``/webhooks/rest/webhook``."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> BoundedRestInput:
        """Read ``max_chars`` and ``max_body_bytes`` from credentials.yml (both optional)."""
        creds = credentials or {}
        return cls(int(creds.get("max_chars", MAX_CHARS)), int(creds.get("max_body_bytes", MAX_BODY_BYTES)))

    def check(self, request: Request) -> HTTPResponse | None:
        """The error response for a request Rasa must not handle, or None when it is fine."""
        if len(request.body or b"") > self.max_body_bytes:
            return _error(413, "body_too_large", f"request body over {self.max_body_bytes} bytes")
        try:
            data = request.json
        except Exception:  # Sanic raises its own error for malformed or too deeply nested JSON
            return _error(400, "invalid_json", "body is not valid JSON")
        if not isinstance(data, dict):
            return _error(400, "invalid_json", "expected a JSON object")
        sender, message = data.get("sender"), data.get("message")
        if not isinstance(sender, str) or not SENDER_RE.fullmatch(sender):
            return _error(400, "invalid_sender", "sender must be a short id")
        if not isinstance(message, str):
            return _error(400, "invalid_message", "message must be a string")
        if len(message) > self.max_chars:
            return _error(413, "message_too_long", f"message over {self.max_chars} characters")
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST blueprint, with the checks in front of its webhook."""
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def bounded(request: Request) -> HTTPResponse | None:
            if request.method == "POST" and request.path.rstrip("/").endswith("/webhook"):
                return self.check(request)
            return None

        return bp
