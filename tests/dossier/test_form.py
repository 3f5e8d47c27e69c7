"""validate_dossier_form over trackers."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.dossier import ValidateDossierForm

from .conftest import DEMO_CODE, make_tracker, slot_sets


async def run_form(tracker: Any, domain: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the validation action; return (slot sets, messages)."""
    dispatcher = CollectingDispatcher()
    events = await ValidateDossierForm().run(dispatcher, tracker, domain)
    return slot_sets(events), dispatcher.messages


@pytest.mark.parametrize(
    "text",
    ["000 00 20 h57 240101 0001", "mã là 000.00.20.H57–240101–0001 ạ", "0000020H57—240101—0001"],
)
async def test_code_normalised(text: str, domain: dict[str, Any]) -> None:
    tracker = make_tracker(text, slot_events={"dossier_code": text}, requested_slot="dossier_code")
    slots, messages = await run_form(tracker, domain)
    assert slots["dossier_code"] == DEMO_CODE
    assert messages == []


async def test_invalid_code_explained(domain: dict[str, Any]) -> None:
    tracker = make_tracker("hồ sơ 12345", slot_events={"dossier_code": "hồ sơ 12345"}, requested_slot="dossier_code")
    slots, messages = await run_form(tracker, domain)
    assert slots["dossier_code"] is None
    assert len(messages) == 1 and "000.00.20.H57-240101-0001" in messages[0]["text"]


async def test_code_extracted_from_activation_message(domain: dict[str, Any]) -> None:
    tracker = make_tracker("tra cứu hồ sơ 000.00.20.h57 240101 0001 giúp tôi", intent="check_status",
                           requested_slot=None)
    slots, _ = await run_form(tracker, domain)
    assert slots["dossier_code"] == DEMO_CODE


async def test_entity_list_value(domain: dict[str, Any]) -> None:
    tracker = make_tracker("x", slot_events={"dossier_code": ["rác", "000.00.20.H57-240101-0001"]},
                           requested_slot="dossier_code")
    slots, _ = await run_form(tracker, domain)
    assert slots["dossier_code"] == DEMO_CODE


@pytest.mark.parametrize(("text", "digits"), [("bốn số cuối là 6789", "6789"), ("6789", "6789"),
                                              ("so cuoi 6 7 8 9", "6789")])
async def test_digits_extracted(text: str, digits: str, domain: dict[str, Any]) -> None:
    tracker = make_tracker(text, slots={"dossier_code": DEMO_CODE}, slot_events={"verification_digits": text},
                           requested_slot="verification_digits")
    slots, messages = await run_form(tracker, domain)
    assert slots["verification_digits"] == digits and messages == []


async def test_bad_digits_reasked(domain: dict[str, Any]) -> None:
    tracker = make_tracker("123", slots={"dossier_code": DEMO_CODE}, slot_events={"verification_digits": "123"},
                           requested_slot="verification_digits")
    slots, messages = await run_form(tracker, domain)
    assert slots["verification_digits"] is None
    assert "4 chữ số" in messages[0]["text"]


async def test_stale_code_dropped_when_form_restarts(domain: dict[str, Any]) -> None:
    tracker = make_tracker("tra cứu hồ sơ", intent="check_status", slots={"dossier_code": DEMO_CODE})
    slots, messages = await run_form(tracker, domain)
    assert slots == {"dossier_code": None} and messages == []


async def test_prefilled_code_from_button_kept(domain: dict[str, Any]) -> None:
    text = '/check_status{"dossier_code": "000.00.20.H57-240101-0001"}'
    tracker = make_tracker(text, intent="check_status", slots={"dossier_code": DEMO_CODE},
                           entities=[{"entity": "dossier_code", "value": DEMO_CODE}])
    slots, messages = await run_form(tracker, domain)
    assert slots.get("dossier_code", DEMO_CODE) == DEMO_CODE and messages == []


async def test_new_code_replaces_old_while_asking_for_code(domain: dict[str, Any]) -> None:
    other = "000.00.20.H57-240101-0002"
    tracker = make_tracker(f"à nhầm, mã là {other}", slots={"dossier_code": DEMO_CODE}, requested_slot="dossier_code")
    slots, _ = await run_form(tracker, domain)
    assert slots["dossier_code"] == other
