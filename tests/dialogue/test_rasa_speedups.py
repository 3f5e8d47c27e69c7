"""The action-call speed-ups send the same request and accept or refuse the same responses (runs in .venv-rasa)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rasa")

from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
ORIGINAL_FORMAT = RemoteAction._action_call_format
ORIGINAL_VALIDATE = RemoteAction._validate_action_result
RESPONSES = [
    {"events": [{"event": "slot", "name": "procedure_code", "value": "1.001193", "timestamp": None}],
     "responses": [{"text": "Dạ", "buttons": [{"title": "Phí", "payload": "/ask_procedure"}]}]},
    {"events": [], "responses": []},
    {"events": [{"event": "rewind"}, {"event": "followup", "name": "action_listen"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": 3}], "responses": "x"},
    {"responses": [1, 2]},
]


def _outcome(validate: object, action: RemoteAction, response: dict) -> str:
    """'ok' or the validation error's message."""
    try:
        validate(action, response)  # type: ignore[operator]
        return "ok"
    except ValidationError as exc:
        return exc.message


def test_same_request_and_same_verdicts_as_rasa() -> None:
    rasa_speedups.install()
    rasa_speedups.install()  # twice is harmless
    action = RemoteAction("action_answer_procedure", None)
    tracker = DialogueStateTracker("web:1", DOMAIN.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("lam giay khai sinh", {"name": "ask_procedure"}),
                  SlotSet("procedure_code", "1.001193")]:
        tracker.update(event)
    assert RemoteAction._action_call_format(action, tracker, DOMAIN) == ORIGINAL_FORMAT(action, tracker, DOMAIN)
    assert rasa_speedups.domain_dict(DOMAIN) is rasa_speedups.domain_dict(DOMAIN)
    verdicts = [_outcome(RemoteAction._validate_action_result, action, r) for r in RESPONSES]
    assert verdicts == [_outcome(ORIGINAL_VALIDATE, action, r) for r in RESPONSES]
    assert verdicts[:3] == ["ok"] * 3 and all(v != "ok" for v in verdicts[3:])


INVALID_EVENTS = [
    {"event": "slot", "value": "x"},  # no name
    {"event": "user", "parse_data": "not an object"},
    {"event": "user", "parse_data": {"entities": [{"entity": "x"}]}},  # an entity without a value
    {"event": "action", "name": 3},
    {"event": "entities"},
    {"event": "bot", "timestamp": "yesterday"},
    {"event": "bot", "metadata": []},
    {"event": 7},
    {"name": "no event key"},
    "not an object",
    None,
]
VALID_EVENTS = [
    {"event": "user", "text": "xin chào", "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                                         "entities": [{"entity": "e", "value": 1, "start": 0}]}},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
    {"event": "bot", "text": "Dạ", "data": {"buttons": []}, "metadata": {"utter_action": "utter_x"}},
    {"event": "active_loop", "name": None},
    {"event": "reset_slots"},
]


def test_each_invalid_event_is_still_refused_with_rasas_error() -> None:
    rasa_speedups.install()
    action = RemoteAction("action_answer_procedure", None)
    for bad in INVALID_EVENTS:
        response = {"events": [VALID_EVENTS[0], bad, VALID_EVENTS[1]]}
        verdict = _outcome(RemoteAction._validate_action_result, action, response)
        assert verdict != "ok" and verdict == _outcome(ORIGINAL_VALIDATE, action, response), bad


def test_a_valid_response_is_checked_event_by_event_without_the_whole_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    rasa_speedups.install()
    action = RemoteAction("action_answer_procedure", None)
    response = {"events": VALID_EVENTS, "responses": [{"text": "Dạ"}]}
    assert _outcome(ORIGINAL_VALIDATE, action, response) == "ok"

    def whole_schema(_: object) -> None:
        raise AssertionError("the whole response schema was checked")

    monkeypatch.setattr(rasa_speedups, "_validator", whole_schema)
    assert RemoteAction._validate_action_result(action, response) is True
