"""A seeded dossier capability (embedded one-stop DB, state DB, process-wide services) and tracker helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.dossier import ActionCheckDossier, ActionSubscribeStatus, ValidateDossierForm
from dossier import services as dossier_services
from dossier.adapters.sqlite import SqliteOnestop
from dossier.seed import DEMO_CODE, generate
from dossier.settings import DossierSettings

__all__ = ["DEMO_CODE", "form_value", "install_services", "lookup", "subscribe", "tracker"]


def install_services(data_dir: Path) -> Iterator[dossier_services.DossierServices]:
    """Seed the one-stop DB under ``data_dir`` and install the process-wide services while the caller runs."""
    settings = DossierSettings(data_dir=data_dir, hash_key="security-test-key", hotline="1900 1234")
    onestop = SqliteOnestop(settings.onestop_db)
    onestop.upsert(generate(date(2026, 3, 2)))
    svc = dossier_services.DossierServices.from_settings(settings, adapter=onestop)
    dossier_services.set_services(svc)
    try:
        yield svc
    finally:
        dossier_services.set_services(None)


def tracker(text: str, sender: str, slots: dict[str, Any], intent: str = "inform") -> Tracker:
    """A web-channel tracker whose latest user message is ``text``."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [],
              "metadata": {"channel": sender.split(":")[0]}}
    all_slots = {"dossier_code": None, "verification_digits": None, "last_dossier_code": None,
                 "requested_slot": None, **slots}
    return Tracker.from_dict({
        "sender_id": sender, "slots": all_slots, "latest_message": latest, "paused": False,
        "events": [{"event": "action", "name": "action_listen"}, {"event": "user", "text": text,
                                                                   "parse_data": latest}],
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


async def form_value(text: str, sender: str, entity: str | None = None) -> str:
    """What the dossier form keeps in ``verification_digits`` when the citizen answers ``text`` (NLU: ``entity``)."""
    t = tracker(text, sender, {"dossier_code": DEMO_CODE, "requested_slot": "verification_digits"})
    result = await ValidateDossierForm().validate_verification_digits(entity or text, CollectingDispatcher(), t, {})
    return str(result.get("verification_digits") or "")


async def lookup(code: str, factor: str, sender: str) -> tuple[dict[str, Any], str]:
    """Run action_check_dossier as the form leaves it; return (slots it set, reply text)."""
    dispatcher = CollectingDispatcher()
    events = await ActionCheckDossier().run(
        dispatcher, tracker(factor, sender, {"dossier_code": code, "verification_digits": factor}), {})
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return slots, "\n".join(m.get("text") or "" for m in dispatcher.messages)


async def subscribe(sender: str, last_code: str | None) -> str:
    """Run action_subscribe_status with ``last_dossier_code`` already set (e.g. by injected events)."""
    dispatcher = CollectingDispatcher()
    await ActionSubscribeStatus().run(
        dispatcher, tracker("báo cho tôi khi có kết quả", sender, {"last_dossier_code": last_code},
                            intent="subscribe_status"), {})
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)
