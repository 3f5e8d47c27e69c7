"""The Rasa tracker store writes no phone, CCCD or second factor in clear (issue 11 §5; runs in .venv-rasa)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("rasa")

from rasa.core.tracker_store import create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.tracker_store import RedactingSQLTrackerStore

from .stored_events import stored_text

ROOT = Path(__file__).resolve().parents[2]
CODE = "000.00.20.H57-240101-0001"


def _user(text: str, entities: list[dict] | None = None) -> UserUttered:
    """A parsed user message."""
    return UserUttered(text, {"name": "inform", "confidence": 0.9}, entities or [],
                       parse_data={"text": text, "intent": {"name": "inform", "confidence": 0.9},
                                   "entities": entities or []})


def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RedactingSQLTrackerStore:
    """The store over a fresh SQLite file, created from endpoints.yml as Rasa does."""
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    endpoints = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    assert endpoints is not None
    store = create_tracker_store(endpoints, Domain.load(str(ROOT / "domain.yml")))
    assert isinstance(store, RedactingSQLTrackerStore), type(store)
    return store


def _stored_text(tmp_path: Path) -> str:
    """The strings and integers of the events table (a timestamp may hold any four digits)."""
    return stored_text(tmp_path / "tracker.db")


def test_endpoints_use_the_redacting_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _store(tmp_path, monkeypatch)


def test_user_text_parse_data_and_slots_are_masked_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, monkeypatch)
    tracker = DialogueStateTracker("web:1", [])
    turn1 = [
        ActionExecuted("action_listen"),
        _user("tra cứu hồ sơ, sđt của tôi (091) 234-6789, cccd 001 085 012 345"),
        ActionExecuted("dossier_form"), ActiveLoop("dossier_form"), SlotSet("requested_slot", "dossier_code"),
        BotUttered("Mã hồ sơ là gì ạ?"), ActionExecuted("action_listen"),
        _user(f"mã {CODE}", [{"entity": "dossier_code", "value": CODE, "start": 3, "end": 28}]),
        ActionExecuted("dossier_form"), SlotSet("dossier_code", CODE), SlotSet("requested_slot", "verification_digits"),
        ActionExecuted("action_listen"),
    ]
    for event in turn1:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    turn2 = [
        _user("bốn số cuối là 6789", [{"entity": "verification_digits", "value": "6789", "start": 15, "end": 19}]),
        ActionExecuted("dossier_form"), SlotSet("verification_digits", "6789"), SlotSet("requested_slot", None),
        ActiveLoop(None), ActionExecuted("action_check_dossier"), SlotSet("dossier_code", None),
        SlotSet("verification_digits", None), SlotSet("last_dossier_code", CODE),
        ActionExecuted("action_listen"),
        _user("số điện thoại +84 91 234 5678 nhé"),
    ]
    for event in turn2:
        tracker.update(event)
    asyncio.run(store.save(tracker))

    stored = _stored_text(tmp_path)
    for secret in ("2346789", "234-6789", "085 012", "6789", "5678"):
        assert secret not in stored, secret
    assert CODE in stored  # the dossier code is what later turns need

    again = asyncio.run(store.retrieve("web:1"))
    assert again is not None and len(again.events) == len(tracker.events)
    assert again.get_slot("last_dossier_code") == CODE
    texts = [e.text for e in again.events if isinstance(e, UserUttered)]
    assert texts[2] == "bốn số cuối là ****"
    assert "0912346789" not in "".join(texts).replace(" ", "").replace("-", "").replace("(", "").replace(")", "")


def test_digits_answer_in_a_later_turn_is_masked_even_without_an_entity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path, monkeypatch)
    tracker = DialogueStateTracker("web:2", [])
    for event in [ActionExecuted("action_listen"), _user(CODE), ActionExecuted("dossier_form"),
                  ActiveLoop("dossier_form"), SlotSet("dossier_code", CODE),
                  SlotSet("requested_slot", "verification_digits"), ActionExecuted("action_listen")]:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    tracker.update(_user("6 7 8 9"))  # rejected by validation: no slot, still not stored in clear
    tracker.update(ActionExecuted("dossier_form"))
    asyncio.run(store.save(tracker))
    assert "6 7 8 9" not in _stored_text(tmp_path)


def test_rasa_log_has_no_user_text_on_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import logging

    import structlog
    from rasa.utils.log_utils import configure_structlog

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logging.getLogger().addHandler(handler)
    try:
        configure_structlog(logging.INFO)
        _store(tmp_path, monkeypatch)  # Rasa creates the store after configuring its logging
        text = "hồ sơ 000.00.20.H57-240101-0001 số cuối 6789, sđt 0912 346 789"
        structlog.get_logger().error("rest.message.received.timeout", text=text)
        logging.getLogger("rasa.core.processor").warning("cccd 001 085 012 345 of %s", "web:1")
    finally:
        logging.getLogger().removeHandler(handler)
    logged = out.getvalue()
    assert "rest.message.received.timeout" in logged and "chars]" in logged, logged
    assert "6789" not in logged and "346 789" not in logged and "085 012" not in logged, logged
