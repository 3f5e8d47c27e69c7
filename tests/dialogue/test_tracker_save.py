"""The fast save path stores exactly what Rasa's save with the whole-tracker redaction stored (runs in .venv-rasa).

Two stores over one database stand for two replicas; one of them restarts midway. Whatever the path taken
(rows counted, or known from this process's last load or save), every row must equal the old path's.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("rasa")

import rasa.shared.utils.common
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from bot.tracker_store import RedactingSQLTrackerStore
from tests.dialogue.test_tracker_window import DOMAIN, _turn

DIGITS = "4821"
BARE_DIGITS = "7350"
PHONE = "0912345678"
ORIGINAL_RESOLVE = Event.resolve_by_type


def _conversation() -> list[list[dict]]:
    """35 turns as event dictionaries: questions, forms, the 4 digits answered, a phone number typed."""
    opening = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    turns: list[list[Event]] = []
    for i in range(35):
        if i % 7 == 3 and i % 2:  # the digits typed with no entity found: masked because they were asked for
            turns.append([UserUttered(f"là {BARE_DIGITS} ạ", {"name": "inform"}), ActionExecuted("dossier_form"),
                          BotUttered("Chưa đúng"), ActionExecuted("action_listen")])
        elif i % 7 == 3:
            turns.append([UserUttered(DIGITS, {"name": "inform"}, [{"entity": "verification_digits", "value": DIGITS,
                                                                    "start": 0, "end": 4}]),
                          ActionExecuted("dossier_form"), SlotSet("verification_digits", DIGITS),
                          SlotSet("requested_slot", None), ActiveLoop(None), BotUttered(f"Mã {DIGITS} đúng"),
                          ActionExecuted("action_listen")])
        elif i % 7 == 5:
            turns.append([UserUttered(f"gọi tôi số {PHONE}", {"name": "chitchat"}), ActionExecuted("utter_ok"),
                          BotUttered("Dạ"), ActionExecuted("action_listen")])
        else:
            turns.append(_turn(i))
    turns[0] = opening + turns[0]  # created first: the latest session starts at its timestamp
    return [[e.as_dict() for e in turn] for turn in turns]


def _stored_rows(tmp_path: Path, conversation: list[list[dict]], speedups: bool) -> list[dict]:
    """Play the conversation through two stores (one restarts at turn 20); the rows stored, in order."""
    db = tmp_path / f"tracker-{speedups}.db"

    def store() -> RedactingSQLTrackerStore:
        return RedactingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{db}", window_turns=3, speedups=speedups)

    replicas = [store(), store()]
    for i, turn in enumerate(conversation):
        if i == 20:
            replicas[0] = store()
        replica = replicas[1] if i % 4 == 2 else replicas[0]
        tracker = asyncio.run(replica.retrieve("web:r")) or DialogueStateTracker("web:r", DOMAIN.slots)
        for data in turn:
            tracker.update(Event.from_parameters(data))  # type: ignore[arg-type]
        asyncio.run(replica.save(tracker))
    with sqlite3.connect(db) as conn:
        return [json.loads(data) for (data,) in conn.execute("SELECT data FROM events ORDER BY id")]


def test_fast_save_stores_what_the_whole_tracker_redaction_stored(tmp_path: Path) -> None:
    conversation = _conversation()
    old = _stored_rows(tmp_path, conversation, speedups=False)
    new = _stored_rows(tmp_path, conversation, speedups=True)
    assert new == old
    assert len(new) == sum(len(turn) for turn in conversation)
    text = json.dumps(new, ensure_ascii=False)
    assert PHONE not in text and f"Mã {DIGITS}" not in text and f'"{DIGITS}"' not in text
    assert "là **** ạ" in text  # turn 3, just after the form asked for the digits


def test_event_classes_are_found_as_rasa_finds_them() -> None:
    rasa_speedups.install()
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is ORIGINAL_RESOLVE(name)
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_a_turn_is_saved_in_one_insert_and_loaded_in_one_query(tmp_path: Path) -> None:
    from sqlalchemy import event as sa_event

    store = RedactingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{tmp_path / 't.db'}", window_turns=3)
    statements: list[str] = []
    sa_event.listen(store.engine, "before_cursor_execute",
                    lambda _c, _cur, sql, *_: statements.append(sql.split()[0].upper()))
    conversation = _conversation()
    for turn in conversation[:12]:
        tracker = asyncio.run(store.retrieve("web:q")) or DialogueStateTracker("web:q", DOMAIN.slots)
        for data in turn:
            tracker.update(Event.from_parameters(data))  # type: ignore[arg-type]
        statements.clear()
        asyncio.run(store.save(tracker))
        assert statements.count("INSERT") == 1, statements  # the ORM sent one INSERT per event
        statements.clear()
        again = asyncio.run(store.retrieve("web:q"))
        assert statements == ["SELECT"]
        assert again is not None and again.events[-1] == tracker.events[-1]
