"""Fixtures for the dossier tests: a seeded embedded one-stop DB, services, trackers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker

from dossier import services as dossier_services
from dossier.adapters.sqlite import SqliteOnestop
from dossier.seed import generate
from dossier.settings import REPO_ROOT, DossierSettings

BASE_DATE = date(2026, 3, 2)
DEMO_CODE = "000.00.20.H57-240101-0001"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded onestop.db, copied into each test's data dir."""
    path = tmp_path_factory.mktemp("template") / "onestop.db"
    SqliteOnestop(path).upsert(generate(BASE_DATE))
    return path


@pytest.fixture
def settings(tmp_path: Path, seeded_template: Path) -> DossierSettings:
    """Settings over a fresh data dir holding a copy of the seeded one-stop DB."""
    (tmp_path / "onestop.db").write_bytes(seeded_template.read_bytes())
    return DossierSettings(data_dir=tmp_path, hash_key="test-key", hotline="1900 1234")


@pytest.fixture
def onestop(settings: DossierSettings) -> SqliteOnestop:
    """The embedded adapter over the test DB."""
    return SqliteOnestop(settings.onestop_db)


@pytest.fixture
def services(settings: DossierSettings, onestop: SqliteOnestop) -> Iterator[dossier_services.DossierServices]:
    """Install process-wide services for the actions, removed afterwards."""
    svc = dossier_services.DossierServices.from_settings(settings, adapter=onestop)
    dossier_services.set_services(svc)
    yield svc
    dossier_services.set_services(None)


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The project's domain.yml as a dict."""
    return yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))


def make_tracker(
    text: str = "",
    slots: dict[str, Any] | None = None,
    sender: str = "web:abc",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    slot_events: dict[str, Any] | None = None,
    requested_slot: str | None = None,
) -> Tracker:
    """A tracker whose latest user message is ``text``; ``slot_events`` are fresh slot candidates."""
    all_slots = {"dossier_code": None, "verification_digits": None, "last_dossier_code": None,
                 "requested_slot": requested_slot, **(slots or {})}
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or [],
              "metadata": metadata if metadata is not None else {"channel": sender.split(":")[0]}}
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"},
                                    {"event": "user", "text": text, "parse_data": latest}]
    for name, value in (slot_events or {}).items():
        events.append({"event": "slot", "name": name, "value": value})
        all_slots[name] = value
    return Tracker.from_dict({
        "sender_id": sender, "slots": all_slots, "latest_message": latest, "events": events,
        "paused": False, "followup_action": None,
        "active_loop": {"name": "dossier_form"} if requested_slot else {},
        "latest_action_name": "action_listen",
    })


def slot_sets(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Slot name → value for the SlotSet events in ``events``."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
