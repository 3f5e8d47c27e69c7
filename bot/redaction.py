"""Personal data out of what Rasa stores and logs: second factors, digits asked for, phone and CCCD numbers."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered

from common.text import find_dossier_codes, mask_pii

SECOND_FACTOR = "verification_digits"
REQUESTED_SLOT = "requested_slot"
_DIGIT = re.compile(r"\d")


def _mask_all_digits(text: str) -> str:
    """Star every digit outside dossier codes (the text answered the question for the 4 digits)."""
    codes = [(start, end) for start, end, _ in find_dossier_codes(text)]
    return "".join(
        "*" if ch.isdigit() and not any(s <= i < e for s, e in codes) else ch for i, ch in enumerate(text)
    )


def _mask_secrets(text: str, secrets: frozenset[str]) -> str:
    """Mask phone/CCCD numbers, and every known second factor standing on its own."""
    text = mask_pii(text)
    for secret in secrets:
        text = re.sub(rf"(?<![\d\-.]){re.escape(secret)}(?!\d|[\-.]\d)", "*" * len(secret), text)
    return text


def _masked_value(name: str, value: Any, secrets: frozenset[str]) -> Any:
    """A slot or entity value as it may be stored."""
    if value is None:
        return None
    if name == SECOND_FACTOR:
        return _DIGIT.sub("*", str(value))
    if isinstance(value, str):
        return _mask_secrets(value, secrets)
    if isinstance(value, list):
        return [_masked_value(name, item, secrets) for item in value]
    return value


def _second_factors(events: list[dict[str, Any]]) -> frozenset[str]:
    """Every value the conversation gave the second factor (slot or entity)."""
    found = {str(e.get("value")) for e in events if e.get("event") == "slot" and e.get("name") == SECOND_FACTOR}
    for event in events:
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == SECOND_FACTOR:
                found.add(str(entity.get("value")))
    return frozenset(s for s in found if s.isdigit() and len(s) >= 3)


def _redact_user(event: dict[str, Any], secrets: frozenset[str], digits_asked: bool) -> dict[str, Any]:
    """A user event with its text, parse data and entity values redacted."""

    def text_of(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        return _mask_all_digits(mask_pii(text)) if digits_asked else _mask_secrets(text, secrets)

    event = dict(event, text=text_of(event.get("text")))
    parse = event.get("parse_data")
    if isinstance(parse, dict):
        entities = [
            dict(e, value=_masked_value(str(e.get("entity")), text_of(e.get("value")), secrets))
            if isinstance(e, dict) else e
            for e in parse.get("entities") or []
        ]
        event["parse_data"] = dict(parse, text=text_of(parse.get("text")), entities=entities)
    return event


def redact_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events (``Event.as_dict()`` form, in order) with phone, CCCD and second-factor values masked."""
    return redact_from(events, _second_factors(events), None)


def context_before(events: list[Event], start: int) -> tuple[frozenset[str], Any]:
    """The second factors of ``events`` and the slot asked at ``start``, as ``redact_events`` would find them."""
    found: set[str] = set()
    requested: Any = None
    for i, event in enumerate(events):
        if isinstance(event, SlotSet):
            if event.key == SECOND_FACTOR:
                found.add(str(event.value))
            elif event.key == REQUESTED_SLOT and i < start:
                requested = event.value
        elif isinstance(event, UserUttered):
            found.update(str(e.get("value")) for e in event.entities or [] if e.get("entity") == SECOND_FACTOR)
        elif isinstance(event, ActiveLoop) and event.name is None and i < start:
            requested = None
    return frozenset(s for s in found if s.isdigit() and len(s) >= 3), requested


def redact_from(events: list[dict[str, Any]], secrets: frozenset[str], requested: Any) -> list[dict[str, Any]]:
    """The events redacted knowing the conversation's second factors and the slot asked before the first."""
    result = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            event = _redact_user(event, secrets, requested == SECOND_FACTOR)
        elif kind == "slot":
            if event.get("name") == REQUESTED_SLOT:
                requested = event.get("value")
            event = dict(event, value=_masked_value(str(event.get("name")), event.get("value"), secrets))
        elif kind == "bot" and isinstance(event.get("text"), str):
            event = dict(event, text=_mask_secrets(event["text"], secrets))
        elif kind == "active_loop" and event.get("name") is None:
            requested = None
        result.append(event)
    return result


# Rasa's structlog records are JSON; the REST channel logs the user's whole message on a timeout or failure.
_LOGGED_TEXT = re.compile(r'("(?:text|user_text|user_message|message|parse_data_text)":\s*)"((?:[^"\\]|\\.)*)"')


class RedactingLogFilter(logging.Filter):
    """Replace user texts in Rasa's JSON log records by their length, and mask phone/CCCD in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return True
        message = _LOGGED_TEXT.sub(lambda m: f'{m.group(1)}"[{len(m.group(2))} chars]"', message)
        record.msg, record.args = mask_pii(message), None
        return True


def install_log_redaction() -> None:
    """Put the redacting filter on every handler of the root logger (where Rasa's logging ends up)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingLogFilter) for f in handler.filters):
            handler.addFilter(RedactingLogFilter())
