"""A long session is loaded as its last turns over the state they start from (runs in .venv-rasa).

What the policies and actions see of the window must equal the whole session; every event is still stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("rasa")

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import WINDOW_SLACK, RedactingSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
CODE = "000.00.20.H57-240101-0001"


def _user(text: str, intent: str, entities: list[dict] | None = None) -> UserUttered:
    """A parsed user message."""
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    return UserUttered(text, parse["intent"], entities or [], parse_data=parse)


def _turn(i: int) -> list[Event]:
    """The i-th turn of a varied conversation: questions, a dossier form over two turns, a rewound miss."""
    kind = i % 5
    if kind == 0:
        return [_user("lam giay khai sinh can gi" + " a" * i, "ask_procedure"),
                ActionExecuted("action_answer_procedure"),
                BotUttered(f"thủ tục mã 1.00{i}"), SlotSet("procedure_code", f"1.00{i}"),
                ActionExecuted("action_ask_feedback"), ActionExecuted("action_listen")]
    if kind == 1:
        return [_user("tra cứu hồ sơ", "check_status"), ActionExecuted("dossier_form"), ActiveLoop("dossier_form"),
                SlotSet("requested_slot", "dossier_code"), BotUttered("Mã hồ sơ?"), ActionExecuted("action_listen")]
    if kind == 2:
        return [_user(CODE, "inform", [{"entity": "dossier_code", "value": CODE, "start": 0, "end": len(CODE)}]),
                ActionExecuted("dossier_form"), SlotSet("dossier_code", CODE),
                SlotSet("requested_slot", "verification_digits"), BotUttered("4 số cuối?"),
                ActionExecuted("action_listen")]
    if kind == 3:
        return [_user("asdkjh", "nlu_fallback"), ActionExecuted("action_fallback"), BotUttered("Anh/chị nói lại?"),
                UserUtteranceReverted(), ActionExecuted("action_listen")]
    return [_user("cảm ơn", "thank"), ActionExecuted("utter_thank"), BotUttered("Dạ"),
            ActionExecuted("action_listen")]


def _store(tmp_path: Path, window_turns: int) -> RedactingSQLTrackerStore:
    """The store over a fresh SQLite file."""
    return RedactingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{tmp_path / 'tracker.db'}",
                                    window_turns=window_turns)


@pytest.mark.parametrize("window_turns", [6, 8])
def test_windowed_session_sees_what_the_whole_session_sees(tmp_path: Path, window_turns: int) -> None:
    store = _store(tmp_path, window_turns)
    full = DialogueStateTracker("web:w", DOMAIN.slots)
    opening: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    windowed = None
    for i in range(30):
        windowed = asyncio.run(store.retrieve("web:w")) or DialogueStateTracker("web:w", DOMAIN.slots)
        for event in (opening if i == 0 else []) + _turn(i):
            full.update(event)
            windowed.update(event)
        asyncio.run(store.save(windowed))
        again = asyncio.run(store.retrieve("web:w"))
        assert again is not None
        assert again.current_slot_values() == full.current_slot_values()
        assert again.active_loop_name == full.active_loop_name
        assert again.latest_message.text == full.latest_message.text
        assert again.past_states(DOMAIN)[-6:] == full.past_states(DOMAIN)[-6:]
        stored = asyncio.run(store.retrieve_full_tracker("web:w"))
        assert stored is not None and [e.as_dict() for e in stored.events] == [e.as_dict() for e in full.events]
    assert again is not None
    user_turns = sum(isinstance(e, UserUttered) for e in again.events)
    assert window_turns <= user_turns <= window_turns + WINDOW_SLACK + 1
    assert len(again.events) < len(full.events) / 2


def test_a_new_session_drops_the_old_window(tmp_path: Path) -> None:
    store = _store(tmp_path, 2)
    tracker = DialogueStateTracker("web:s", DOMAIN.slots)
    for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        tracker.update(event)
    for i in range(12):
        for event in _turn(i):
            tracker.update(event)
    asyncio.run(store.save(tracker))
    stored_before = len(tracker.events)
    assert asyncio.run(store.retrieve("web:s")).get_slot("procedure_code") == "1.0010"  # type: ignore[union-attr]
    tracker = asyncio.run(store.retrieve("web:s"))
    assert tracker is not None
    new_session = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"), *_turn(4)]
    for event in new_session:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    fresh = asyncio.run(store.retrieve("web:s"))
    assert fresh is not None and fresh.get_slot("procedure_code") is None
    assert [e.type_name for e in fresh.events][:2] == ["session_started", "action"]
    with sqlite3.connect(tmp_path / "tracker.db") as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == stored_before + len(new_session)


def test_default_window_is_short_and_still_holds_the_hand_over_transcript(tmp_path: Path) -> None:
    store = RedactingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{tmp_path / 'tracker.db'}")
    tracker = DialogueStateTracker("web:d", DOMAIN.slots)
    for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        tracker.update(event)
    for i in range(40):
        for event in _turn(i):
            tracker.update(event)
        asyncio.run(store.save(tracker))
        tracker = asyncio.run(store.retrieve("web:d"))
        assert tracker is not None
        if i >= 10:
            lines = [e for e in tracker.events if isinstance(e, (UserUttered, BotUttered)) and e.text]
            assert len(lines) >= 12  # bot.actions.handoff.TRANSCRIPT_TURNS
            assert sum(isinstance(e, UserUttered) for e in tracker.events) <= 8
