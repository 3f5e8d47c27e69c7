"""Rasa's REST channel with bounds: ``bot.rest_channel.BoundedRestInput`` in credentials.yml.

Same URL as Rasa's own (``/webhooks/rest/webhook``); a request whose body is too big, whose
``message`` is not a string or is longer than ``max_chars``, or whose ``sender`` is not a short id
is answered 400/413 with a JSON error before Rasa parses or runs anything. A button payload
(``/intent{"entity": "value"}`` naming an intent of the domain) is read here, exactly as Rasa's
``RegexMessageHandler`` reads it at the end of the NLU pipeline, so that the pipeline (tokenizer,
featurizers, DIET) does not run for a result it would throw away. When the server stops, it closes the
kept-alive connections to the action server (``bot.rasa_http``). Runs inside Rasa (Python 3.10): imports
only Rasa, Sanic (Rasa's server), ``bot.rasa_http`` and ``common.text``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import rasa_http

MAX_CHARS = 2000  # the gateway's web chat cap; Telegram and Zalo messages are shorter
MAX_BODY_BYTES = 64 * 1024
# Sender ids (``tg:…``, ``zalo:…``, ``web:…``, ``call:<SIP Call-ID>``): short, no control characters.
SENDER_RE = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


def payload_parse(text: str, domain: Domain | None) -> dict[str, Any] | None:
    """The parse data of a button payload naming a domain intent (as the NLU pipeline would give), else None."""
    if domain is None or not text.lstrip().startswith("/"):
        return None
    message = Message({TEXT: text})
    unpacked = YAMLStoryReader.unpack_regex_message(message, domain, entity_extractor_name="RegexMessageHandler")
    if unpacked is message:  # not a well-formed payload of a known intent: the pipeline reads it as text
        return None
    return {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: [],
            **unpacked.as_dict(only_output_properties=True)}


def _error(status: int, code: str, message: str) -> HTTPResponse:
    """A JSON error response."""
    return response.json({"error": code, "message": message}, status=status)


class BoundedRestInput(RestInput):
    """The REST channel, refusing over-long or malformed messages before Rasa handles them."""

    def __init__(
        self, max_chars: int = MAX_CHARS, max_body_bytes: int = MAX_BODY_BYTES, parse_payloads: bool = True
    ) -> None:
        """Refuse messages over ``max_chars`` characters and bodies over ``max_body_bytes``."""
        self.max_chars = max_chars
        self.max_body_bytes = max_body_bytes
        self.parse_payloads = parse_payloads
        self._domain: Domain | None = None

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's URL: ``/webhooks/rest/webhook``."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> BoundedRestInput:
        """Read ``max_chars`` and ``max_body_bytes`` from credentials.yml (both optional)."""
        creds = credentials or {}
        parse_payloads = str(creds.get("parse_payloads", True)).strip().lower() not in ("false", "0", "no")
        return cls(int(creds.get("max_chars", MAX_CHARS)), int(creds.get("max_body_bytes", MAX_BODY_BYTES)),
                   parse_payloads)

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
        """Rasa's REST blueprint, with the checks in front of its webhook and button payloads read here."""

        async def handle(message: UserMessage) -> Any:
            if self.parse_payloads and message.parse_data is None and message.text:
                message.parse_data = payload_parse(message.text, self._domain)
            return await on_new_message(message)

        bp = super().blueprint(handle)

        @bp.listener("after_server_stop")
        async def close_action_calls(_app: Any, _loop: Any) -> None:
            await rasa_http.close()  # the kept-alive connections to the action server (bot.rasa_speedups)

        @bp.middleware("request")
        async def bounded(request: Request) -> HTTPResponse | None:
            if request.method == "POST" and request.path.rstrip("/").endswith("/webhook"):
                agent = getattr(request.app.ctx, "agent", None)
                self._domain = getattr(agent, "domain", None)  # the loaded model's (a new model can replace it)
                return self.check(request)
            return None

        return bp
