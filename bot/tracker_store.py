"""Rasa's SQL tracker store, redacting personal data before it is written (runs inside Rasa on Python 3.10).

Rasa keeps the tracker of a message in memory from the moment the message arrives until every action of
that turn has run, and writes it only then (``MessageProcessor.handle_message``: ``log_message`` without
saving, the prediction loop, then ``save_tracker``). So the actions of a turn see the real values; only the
copy on disk, which later turns read back, is redacted. The form asks for the dossier code and the 4 digits
in separate turns, and the digits are used in the turn they arrive: nothing a later turn needs is masked
(the dossier code, ``last_dossier_code``, is not personal data and stays as typed).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from common.text import find_dossier_codes, mask_pii

logger = logging.getLogger(__name__)

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
    secrets = _second_factors(events)
    requested: Any = None
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


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that writes every new event with phone, CCCD and the 4 verification digits masked.

    Rasa creates it once at start-up, after configuring its logging: that is when the log filter goes in.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the SQL store (a SQLite file made private) and redact Rasa's log output from now on."""
        super().__init__(*args, **kwargs)
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if database and database != ":memory:":
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(database + suffix):
                    os.chmod(database + suffix, 0o600)
        install_log_redaction()

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events not yet stored, redacted (the whole tracker is read to know what was asked)."""
        new = list(super()._additional_events(session, tracker))
        if not new:
            return iter(())
        everything = [event.as_dict() for event in tracker.events]
        redacted = redact_events(everything)[len(everything) - len(new):]
        return iter(_as_event(original, data) for original, data in zip(new, redacted, strict=True))


def _as_event(original: Event, data: dict[str, Any]) -> Event:
    """The redacted event, or the original when redaction changed nothing."""
    if data == original.as_dict():
        return original
    redacted = Event.from_parameters(data)
    if redacted is None:  # not seen with Rasa 3.6's events; keep the conversation rather than lose it
        logger.warning("could not redact a %s event before storing it", original.type_name)
        return original
    return redacted
