"""Past states and applied events continued from the last call equal Rasa's replay (runs in .venv-rasa).

Every prefix of varied conversations (forms run and interrupted, rewinds, reverted actions, hidden rule turns,
a loop named only late, a restart) is compared with Rasa's own methods, for each kind of caller; then what
a turn costs: the states of the new events only, and a reloaded window read back without decoding its rows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rasa")

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_history
from bot.tracker_store import RedactingSQLTrackerStore
from tests.dialogue.test_tracker_save import PHONE, _conversation
from tests.dialogue.test_tracker_window import DOMAIN, _turn

RULE_ONLY = {"rule_only_slots": ["requested_slot"], "rule_only_loops": ["subscribe_form"]}
CALLS: list[dict[str, Any]] = [
    {}, {"omit_unset_slots": True}, {"ignore_rule_only_turns": True, "rule_only_data": RULE_ONLY},
    {"ignore_rule_only_turns": True, "rule_only_data": None},
]


def _user(text: str, intent: str) -> UserUttered:
    """A parsed user message."""
    return UserUttered(text, {"name": intent, "confidence": 0.9}, [])


def _odd_turns() -> list[Event]:
    """Turns Rasa's replay treats specially: hidden rule turns, followups, rejections, reverts, a late loop."""
    return [
        _user("đăng ký", "subscribe_status"), ActionExecuted("subscribe_form"), ActiveLoop("subscribe_form"),
        SlotSet("requested_slot", "dossier_code"), BotUttered("Mã?"), ActionExecuted("action_listen"),
        _user("cảm ơn", "thank"), ActionExecutionRejected("subscribe_form"),
        ActionExecuted("utter_thank", hide_rule_turn=True), ActionExecuted("subscribe_form"),
        ActionExecuted("action_listen", hide_rule_turn=True),
        _user("hủy", "deny"), ActionExecuted("subscribe_form"), ActiveLoop(None), SlotSet("requested_slot", None),
        FollowupAction("action_listen"), ActionExecuted("action_listen"),
        _user("gì cơ", "help"), ActionExecuted("utter_help"), ActionReverted(), ActionExecuted("action_listen"),
        _user("làm lại", "restart"), ActionExecuted("action_restart"), Restarted(),
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
    ]


def _conversations() -> list[list[Event]]:
    """Opening, then the window tests' varied turns and the odd ones, in two orders."""
    opening: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    varied = [event for i in range(12) for event in _turn(i)]
    return [opening + varied + _odd_turns() + varied[:20], opening + _odd_turns() + varied]


def _rasa(tracker: DialogueStateTracker, domain: Domain, **kwargs: Any) -> list[dict[str, Any]]:
    """The states as Rasa computes them, on a fresh tracker of the same events."""
    fresh = DialogueStateTracker.from_events(tracker.sender_id, list(tracker.events), DOMAIN.slots)
    fresh.applied_events = rasa_history.RASA_APPLIED_EVENTS.__get__(fresh)  # type: ignore[method-assign]
    return rasa_history.RASA_PAST_STATES(fresh, domain, **kwargs)  # type: ignore[no-any-return]


@pytest.mark.parametrize("conversation", _conversations())
def test_every_prefix_has_rasas_states_and_applied_events(conversation: list[Event]) -> None:
    rasa_history.install()
    tracker = DialogueStateTracker("web:h", DOMAIN.slots)
    for event in conversation:
        tracker.update(event)
        assert tracker.applied_events() == rasa_history.RASA_APPLIED_EVENTS(tracker)
        for kwargs in CALLS:
            states = tracker.past_states(DOMAIN, **kwargs)
            assert states == _rasa(tracker, DOMAIN, **kwargs)
            for state in states:  # callers edit what they get (the featurizer drops the last text or intent)
                for sub_state in state.values():
                    sub_state.clear()
            assert tracker.past_states(DOMAIN, **kwargs) == _rasa(tracker, DOMAIN, **kwargs)


def test_a_new_event_costs_its_own_state_not_the_whole_history(monkeypatch: pytest.MonkeyPatch) -> None:
    rasa_history.install()
    computed: list[int] = []
    original = Domain.get_active_state
    monkeypatch.setattr(Domain, "get_active_state", lambda self, *a, **k: computed.append(1) or original(self, *a, **k))
    tracker = DialogueStateTracker("web:c", DOMAIN.slots)
    for event in _conversations()[1]:  # 12 turns after the restart
        tracker.update(event)
    first = len(tracker.past_states(DOMAIN))
    computed.clear()
    tracker.update(_user("cảm ơn", "thank"))
    tracker.update(ActionExecuted("utter_thank"))
    assert len(tracker.past_states(DOMAIN)) == first + 1
    assert len(computed) <= 2  # Rasa's replay computed every state again (first + 1)
    assert first > 15


def test_a_reloaded_window_reuses_the_events_and_history_of_the_last_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []
    original = Event.from_parameters

    def counting(parameters: dict[str, Any], default: Any = None) -> Any:
        decoded.append(str(parameters.get("event")))
        return original(parameters, default)

    def store(name: str) -> RedactingSQLTrackerStore:
        return RedactingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{tmp_path / name}", window_turns=3)

    kept, fresh = store("kept.db"), store("fresh.db")
    for i, turn in enumerate(_conversation()):
        trackers = []
        for which in (kept, fresh):
            if which is fresh:
                which._recent.clear()  # nothing kept: every row read from its JSON, as before
            decoded.clear()
            monkeypatch.setattr(Event, "from_parameters", staticmethod(counting))
            tracker = asyncio.run(which.retrieve("web:k")) or DialogueStateTracker("web:k", DOMAIN.slots)
            monkeypatch.undo()
            if which is kept and i > 1:
                assert decoded.count("user") == 0, decoded  # the window's rows were not decoded again
            trackers.append(tracker)
            for data in turn:
                tracker.update(Event.from_parameters(data))  # type: ignore[arg-type]
            for kwargs in CALLS:
                tracker.past_states(DOMAIN, **kwargs)
        assert [e.as_dict() for e in trackers[0].events] == [e.as_dict() for e in trackers[1].events]
        for kwargs in CALLS:
            assert trackers[0].past_states(DOMAIN, **kwargs) == trackers[1].past_states(DOMAIN, **kwargs)
        if i and PHONE in str(_conversation()[i - 1]):
            assert PHONE not in str([e.as_dict() for e in trackers[0].events])  # the stored, masked copy
        for which, tracker in zip((kept, fresh), trackers, strict=True):
            asyncio.run(which.save(tracker))
