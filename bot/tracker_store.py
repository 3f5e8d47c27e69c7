"""Rasa's SQL tracker store, redacting personal data before it is written (runs inside Rasa on Python 3.10).

Rasa keeps the tracker of a message in memory from the moment the message arrives until every action of
that turn has run, and writes it only then (``MessageProcessor.handle_message``: ``log_message`` without
saving, the prediction loop, then ``save_tracker``). So the actions of a turn see the real values; only the
copy on disk, which later turns read back, is redacted. The form asks for the dossier code and the 4 digits
in separate turns, and the digits are used in the turn they arrive: nothing a later turn needs is masked
(the dossier code, ``last_dossier_code``, is not personal data and stays as typed).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActiveLoop, ConversationPaused, Event, LoopInterrupted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from common.text import find_dossier_codes, mask_pii

logger = logging.getLogger(__name__)

SECOND_FACTOR = "verification_digits"
WINDOW_MARK = "tthc_window"
WINDOW_TURNS = 8  # user turns loaded after the checkpoint: the policies need 2-3, the hand-over transcript 6
WINDOW_SLACK = 4  # the checkpoint moves forward once this many turns more have piled up
MAX_CHECKPOINTS = 10_000  # conversations whose checkpoint is kept in memory (a few hundred bytes each)
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


@dataclass(frozen=True)
class _Checkpoint:
    """Where a long session's loaded window starts: the last stored event before it and the state there."""

    event_id: int
    head: tuple[dict[str, Any], ...]  # the session's opening events, up to ``session_started``
    state: tuple[dict[str, Any], ...]  # slot, loop and pause events that rebuild the state at ``event_id``


def _turn_starts(rows: list[tuple[int, str, str | None, str]]) -> list[int]:
    """Indexes of the ``action_listen`` rows directly followed by a user message (where a turn begins)."""
    return [
        i for i in range(len(rows) - 1)
        if rows[i][1] == "action" and rows[i][2] == "action_listen" and rows[i + 1][1] == "user"
    ]


def _session_head(events: list[dict[str, Any]]) -> tuple[dict[str, Any], ...] | None:
    """The opening events of a session (``action_session_start``, ``session_started``), if it has them."""
    for i, event in enumerate(events[:3]):
        if event.get("event") == "session_started":
            return tuple(events[: i + 1])
    return None


def _state_events(tracker: DialogueStateTracker, timestamp: float | None) -> tuple[dict[str, Any], ...]:
    """Events that bring a just-started session to ``tracker``'s slots, active loop and pause."""
    events: list[Event] = [
        SlotSet(name, slot.value, timestamp=timestamp) for name, slot in tracker.slots.items() if slot.has_been_set
    ]
    loop = tracker.active_loop
    if loop is not None and loop.name:
        events.append(ActiveLoop(loop.name, timestamp=timestamp))
        if loop.is_interrupted:
            events.append(LoopInterrupted(True, timestamp=timestamp))
    if tracker.is_paused():
        events.append(ConversationPaused(timestamp=timestamp))
    return tuple(event.as_dict() for event in events)


def _window_mark(tracker: DialogueStateTracker) -> dict[str, int] | None:
    """The window marker a windowed tracker carries on its ``session_started`` event, else None."""
    for i, event in enumerate(tracker.events):
        if i > 2:
            break
        mark = (event.metadata or {}).get(WINDOW_MARK)
        if isinstance(mark, dict):
            return mark
    return None


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that writes every new event with phone, CCCD and the 4 verification digits masked.

    A long session is loaded as its last ``window_turns`` turns (up to ``WINDOW_SLACK`` more) after events
    that rebuild the state they start from (slots, active loop), so that a turn costs the same at the
    100th turn as at the 2nd: loading, the policies' featurisation, the tracker sent to the action server
    and the save all grow with the events loaded. The policies look at 5 states (2-3 turns) and the
    actions at most 12 messages back. The state before the window is kept per conversation in memory;
    the events behind it never change, so any replica can rebuild it from the database (once).
    Rasa creates the store once at start-up, after configuring its logging: that is when the log filter goes in
    (and the speed-ups of ``bot.rasa_speedups``).
    """

    def __init__(self, *args: Any, window_turns: int = WINDOW_TURNS, speedups: bool = True, **kwargs: Any) -> None:
        """Open the SQL store (a SQLite file made private) and redact Rasa's log output from now on.

        ``window_turns: 0`` loads whole sessions and ``speedups: false`` leaves Rasa's action calls and
        policy ensemble as they are (endpoints.yml; bench/efficiency_bench.py measures today's code so).
        """
        super().__init__(*args, **kwargs)
        self.window_turns = max(0, int(window_turns))
        self._checkpoints: OrderedDict[str, _Checkpoint] = OrderedDict()
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if database and database != ":memory:":
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(database + suffix):
                    os.chmod(database + suffix, 0o600)
        install_log_redaction()
        if str(speedups).strip().lower() not in ("false", "0", "no"):
            rasa_speedups.install()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session; a long one as its last turns after the events that rebuild its state there."""
        if not self.window_turns or self.domain is None:
            return await super().retrieve(sender_id)
        checkpoint = self._checkpoints.get(sender_id)
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            found = query.filter(self.SQLEvent.id > checkpoint.event_id) if checkpoint else query
            rows = [(r.id, r.type_name, r.action_name, r.data) for r in found]
            stored_before = query.count() - len(rows) if checkpoint else 0
        if stored_before <= 0:  # no checkpoint, or a new session began after it: these rows are the session
            checkpoint = None
        events = [json.loads(row[3]) for row in rows]
        head, state = (checkpoint.head, checkpoint.state) if checkpoint else (_session_head(events), ())
        starts = _turn_starts(rows)
        if head is not None and len(starts) > self.window_turns + WINDOW_SLACK:
            cut = starts[-self.window_turns]
            before = DialogueStateTracker.from_dict(sender_id, [*head, *state, *events[:cut]], self.domain.slots)
            state = _state_events(before, events[cut - 1].get("timestamp"))
            checkpoint = _Checkpoint(rows[cut - 1][0], head, state)
            rows, events, stored_before = rows[cut:], events[cut:], stored_before + cut
        if checkpoint is None:
            self._checkpoints.pop(sender_id, None)
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots) if events else None
        self._checkpoints[sender_id] = checkpoint
        self._checkpoints.move_to_end(sender_id)
        while len(self._checkpoints) > MAX_CHECKPOINTS:
            self._checkpoints.popitem(last=False)
        prefix = [*checkpoint.head, *checkpoint.state]
        mark = {"prefix": len(prefix), "stored_before": stored_before}
        last = len(checkpoint.head) - 1  # the ``session_started`` event carries the marker
        prefix[last] = dict(prefix[last], metadata={**(prefix[last].get("metadata") or {}), WINDOW_MARK: mark})
        return DialogueStateTracker.from_dict(sender_id, [*prefix, *events], self.domain.slots)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events not yet stored, redacted (the whole loaded tracker is read to know what was asked)."""
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        mark = _window_mark(tracker)
        start = stored if mark is None else max(mark["prefix"], mark["prefix"] + stored - mark["stored_before"])
        new = list(tracker.events)[start:]
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
