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
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import (
    ActiveLoop,
    ConversationPaused,
    Event,
    LoopInterrupted,
    SessionStarted,
    SlotSet,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import bindparam, create_engine, func, or_, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot import rasa_speedups
from bot.rasa_history import HISTORY_ATTRIBUTES
from bot.redaction import context_before, install_log_redaction, redact_events, redact_from

logger = logging.getLogger(__name__)

WINDOW_MARK = "tthc_window"
# User turns loaded after the checkpoint: the policies need 2-3, the hand-over transcript (12 user/bot lines) 6.
# Each turn more is replayed on every load and sent with every action call (bench/results/rasa_turn_profile.json).
WINDOW_TURNS = 6
WINDOW_SLACK = 2  # the checkpoint moves forward once this many turns more have piled up
MAX_CHECKPOINTS = 10_000  # conversations whose checkpoint is kept in memory (a few hundred bytes each)
MAX_RECENT = 500  # conversations whose window is kept as event objects (tens of kilobytes each)
_LOADED = "_tthc_loaded"  # tracker attribute: the _Recent it was built from


def _tuned_sqlite_engine(engine: Engine) -> Engine:
    """The engine over the same SQLite file, keeping its connections, in write-ahead-log mode.

    Rasa's engine opens a connection per load or save; closing the last one checkpoints the log to the
    file (an fsync) every time. Here connections stay open, and a commit syncs only at the log's
    checkpoints: a power cut (not a crash of Rasa) may lose the last turns written, never corrupt the
    file. The log mode stays with the file; the sync level is set on each new connection.
    """

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    url = engine.url
    engine.dispose()
    tuned = create_engine(url, poolclass=QueuePool, pool_size=2, connect_args={"check_same_thread": False})
    sa_event.listen(tuned, "connect", on_connect)
    with tuned.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    return tuned


@dataclass(frozen=True)
class _Checkpoint:
    """Where a long session's loaded window starts: the last stored event before it and the state there."""

    event_id: int
    stored_through: int  # the session's events stored up to ``event_id``, included
    head: tuple[dict[str, Any], ...]  # the session's opening events, up to ``session_started``
    state: tuple[dict[str, Any], ...]  # slot, loop and pause events that rebuild the state at ``event_id``


@dataclass(frozen=True)
class _Recent:
    """A conversation's stored events as objects (by row id), its window's opening events and computed history."""

    checkpoint: _Checkpoint | None
    prefix: list[Event]  # the opening and state events before the window (with the window marker)
    rows: dict[int, Event]  # stored row id -> the event as stored (redacted)
    history: dict[str, Any]  # bot.rasa_history's caches, valid for the events they hold (checked on use)


def _row_events(rows: list[tuple[int, str, str | None, str]], known: dict[int, Event]) -> list[Event | None]:
    """The event of each row: the object kept from the last turn, else read from its JSON (None if unreadable)."""
    events: list[Event | None] = []
    for row in rows:
        event = known.get(row[0])
        if event is None:
            data = json.loads(row[3])
            event = Event.from_parameters(data) if "event" in data else None
        events.append(event)
    return events


def _present(events: list[Event | None]) -> list[Event]:
    """The events that could be read (Rasa's ``deserialise_events`` drops the others too)."""
    return [event for event in events if event is not None]


def _session_rows_query(events: Any) -> Any:
    """Id, type, action name and data of a sender's latest-session events after an id, in order: one statement.

    Rasa's ``_event_query`` (a session starts at its latest ``session_started`` timestamp), built once in SQL
    expression form instead of an ORM query per load.
    """
    started = (
        select(func.max(events.c.timestamp))
        .where(events.c.sender_id == bindparam("sender"), events.c.type_name == SessionStarted.type_name)
        .scalar_subquery()
    )
    return (
        select(events.c.id, events.c.type_name, events.c.action_name, events.c.data)
        .where(events.c.sender_id == bindparam("sender"), events.c.id > bindparam("after"),
               or_(events.c.timestamp >= started, started.is_(None)))
        .order_by(events.c.id)
    )


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
    the events behind it never change, so any replica can rebuild it from the database (once). With the
    speed-ups, the next turn gets the window's stored events as the objects this turn saved (a stored row never
    changes) and the history ``bot.rasa_history`` computed of them, instead of decoding and replaying them again.
    Rasa creates the store once at start-up, after configuring its logging: that is when the log filter goes in
    (and the speed-ups of ``bot.rasa_speedups``).
    """

    engine: Engine

    def __init__(self, *args: Any, window_turns: int = WINDOW_TURNS, speedups: bool = True, **kwargs: Any) -> None:
        """Open the SQL store (a SQLite file made private) and redact Rasa's log output from now on.

        ``window_turns: 0`` loads whole sessions and ``speedups: false`` leaves Rasa's action calls, policy
        ensemble, SQLite connections and saving as they are (endpoints.yml; bench/efficiency_bench.py measures
        today's code so).
        """
        super().__init__(*args, **kwargs)
        self.window_turns = max(0, int(window_turns))
        self._checkpoints: OrderedDict[str, _Checkpoint] = OrderedDict()
        self._stored: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self.speedups = str(speedups).strip().lower() not in ("false", "0", "no")
        self._recent: OrderedDict[str, _Recent] = OrderedDict()
        self._ids_after_sql = text(f"SELECT id FROM {self.SQLEvent.__table__.fullname} "
                                   "WHERE sender_id = :sender AND id > :after ORDER BY id")
        self._last_id_sql = text(f"SELECT max(id) FROM {self.SQLEvent.__table__.fullname} WHERE sender_id = :sender")
        self._session_rows_sql = _session_rows_query(self.SQLEvent.__table__)
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if database and database != ":memory:":
            if self.speedups:
                self.engine = _tuned_sqlite_engine(self.engine)
                self.sessionmaker = sessionmaker(bind=self.engine)
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(database + suffix):
                    os.chmod(database + suffix, 0o600)
        install_log_redaction()
        if self.speedups:
            rasa_speedups.install()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session; a long one as its last turns after the events that rebuild its state there."""
        if not self.window_turns or self.domain is None:
            return await super().retrieve(sender_id)
        checkpoint = self._checkpoints.get(sender_id)
        after = checkpoint.event_id if checkpoint else 0
        with self.session_scope() as session:
            found = session.execute(self._session_rows_sql, {"sender": sender_id, "after": after})
            rows = [tuple(r) for r in found]
        if checkpoint is not None and (not rows or any(row[1] == SessionStarted.type_name for row in rows)):
            checkpoint = None  # a new session began after it (or the conversation was deleted): rows are the session
        stored_before = checkpoint.stored_through if checkpoint else 0
        recent = self._recent.pop(sender_id, None)
        events = _row_events(rows, recent.rows if recent else {})
        head, state = (checkpoint.head, checkpoint.state) if checkpoint else (
            _session_head([json.loads(row[3]) for row in rows[:3]]), ())
        starts = _turn_starts(rows)
        if head is not None and len(starts) > self.window_turns + WINDOW_SLACK:
            cut = starts[-self.window_turns]
            opening = deserialise_events([*head, *state])
            before = DialogueStateTracker.from_events(sender_id, [*opening, *_present(events[:cut])], self.domain.slots)
            state = _state_events(before, json.loads(rows[cut - 1][3]).get("timestamp"))
            checkpoint = _Checkpoint(rows[cut - 1][0], stored_before + cut, head, state)
            rows, events, stored_before = rows[cut:], events[cut:], stored_before + cut
        if checkpoint is None:
            self._checkpoints.pop(sender_id, None)
            if not events:
                return None
            return self._loaded(sender_id, [], rows, events, None, rows[-1][0], recent)
        self._checkpoints[sender_id] = checkpoint
        self._checkpoints.move_to_end(sender_id)
        while len(self._checkpoints) > MAX_CHECKPOINTS:
            self._checkpoints.popitem(last=False)
        if recent is not None and recent.checkpoint is checkpoint:
            prefix = recent.prefix
        else:
            dicts = [*checkpoint.head, *checkpoint.state]
            mark = {"prefix": len(dicts), "stored_before": stored_before}
            last = len(checkpoint.head) - 1  # the ``session_started`` event carries the marker
            dicts[last] = dict(dicts[last], metadata={**(dicts[last].get("metadata") or {}), WINDOW_MARK: mark})
            prefix = deserialise_events(dicts)
        last_id = rows[-1][0] if rows else checkpoint.event_id
        return self._loaded(sender_id, prefix, rows, events, checkpoint, last_id, recent)

    def _loaded(self, sender_id: str, prefix: list[Event], rows: list[tuple[int, str, str | None, str]],
                events: list[Event | None], checkpoint: _Checkpoint | None, last_id: int,
                recent: _Recent | None) -> DialogueStateTracker:
        """The tracker of these events; with the speed-ups, what the last turn computed of their history goes along."""
        tracker = DialogueStateTracker.from_events(sender_id, [*prefix, *_present(events)], self.domain.slots)
        self._remember_stored(sender_id, last_id, len(tracker.events))
        if self.speedups:
            setattr(tracker, _LOADED, _Recent(checkpoint, prefix, {
                row[0]: event for row, event in zip(rows, events, strict=True) if event is not None}, {}))
            if recent is not None:
                tracker.__dict__.update(recent.history)  # checked against the events before any use
        return tracker

    def _remember_stored(self, sender_id: str, last_id: int, stored_events: int) -> None:
        """Note the last stored row of a conversation and how many of its tracker's events are stored."""
        if self.speedups:
            self._stored[sender_id] = (last_id, stored_events)
            self._stored.move_to_end(sender_id)
            while len(self._stored) > MAX_CHECKPOINTS:
                self._stored.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events not yet stored, redacted, each serialised once."""
        if not self.speedups:
            return await super().save(tracker)
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        with self.session_scope() as session:
            last_id = session.execute(self._last_id_sql, {"sender": sender_id}).scalar()
            known = self._stored.get(sender_id)
            # Nothing written since this process loaded or saved the conversation: no need to count the rows.
            start = known[1] if known is not None and known[0] == last_id else self._first_unstored(session, tracker)
            new_rows = self._new_rows(tracker, start)
            added = [
                {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                 "intent_name": (data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
                 "action_name": data.get("name"), "data": json.dumps(data)}
                for event, data in new_rows
            ]
            new_last, new_ids = last_id, []
            if added:  # one multi-row INSERT (the ORM sent one per event, to read back each id)
                session.execute(self.SQLEvent.__table__.insert(), added)
                new_ids = list(session.execute(self._ids_after_sql, {"sender": sender_id, "after": last_id or 0})
                               .scalars())
                new_last = new_ids[-1] if new_ids else last_id
            session.commit()
        if new_last is not None:
            self._remember_stored(sender_id, new_last, len(tracker.events))
            self._keep_recent(tracker, new_ids, [event for event, _ in new_rows])

    def _keep_recent(self, tracker: DialogueStateTracker, new_ids: list[int], stored: list[Event]) -> None:
        """Keep the stored events of this window as objects, and the history the turn computed of them."""
        loaded = tracker.__dict__.pop(_LOADED, None)
        history = {key: tracker.__dict__.pop(key) for key in HISTORY_ATTRIBUTES if key in tracker.__dict__}
        if loaded is None or len(new_ids) != len(stored):
            return
        rows = dict(loaded.rows)
        rows.update(zip(new_ids, stored, strict=True))
        self._recent[tracker.sender_id] = _Recent(loaded.checkpoint, loaded.prefix, rows, history)
        self._recent.move_to_end(tracker.sender_id)
        while len(self._recent) > MAX_RECENT:
            self._recent.popitem(last=False)

    def _first_unstored(self, session: Any, tracker: DialogueStateTracker) -> int:
        """The index of the tracker's first event not in the database, from a count of the stored session."""
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        mark = _window_mark(tracker)
        return stored if mark is None else max(mark["prefix"], mark["prefix"] + stored - mark["stored_before"])

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events not yet stored, redacted over the whole tracker (Rasa's ``save``, ``speedups: false``)."""
        new = list(tracker.events)[self._first_unstored(session, tracker):]
        if not new:
            return iter(())
        everything = [event.as_dict() for event in tracker.events]
        redacted = redact_events(everything)[len(everything) - len(new):]
        pairs = zip(new, redacted, strict=True)
        return iter(_as_row(original, original.as_dict(), data)[0] for original, data in pairs)

    def _new_rows(self, tracker: DialogueStateTracker, start: int) -> list[tuple[Event, dict[str, Any]]]:
        """The events from ``start`` on, redacted, with the dictionary to store for each."""
        events = list(tracker.events)
        if start >= len(events):
            return []
        secrets, requested = context_before(events, start)
        new = events[start:]
        originals = [event.as_dict() for event in new]
        redacted = redact_from(originals, secrets, requested)
        return [_as_row(event, original, data) for event, original, data in zip(new, originals, redacted, strict=True)]


def _as_row(event: Event, original: dict[str, Any], data: dict[str, Any]) -> tuple[Event, dict[str, Any]]:
    """The event and the dictionary to store: the original's when redaction changed nothing."""
    if data == original:
        return event, original
    stored = _as_event(event, data)
    return stored, stored.as_dict()


def _as_event(original: Event, data: dict[str, Any]) -> Event:
    """The redacted event (the original if Rasa cannot read it back)."""
    redacted = Event.from_parameters(data)
    if redacted is None:  # not seen with Rasa 3.6's events; keep the conversation rather than lose it
        logger.warning("could not redact a %s event before storing it", original.type_name)
        return original
    return redacted
