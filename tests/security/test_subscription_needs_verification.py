"""§2: a subscription needs THIS sender to have verified THIS code; a slot set by injected events is not enough."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dossier.services import DossierServices
from dossier.store import Hasher, StateDB

from .dossier_rig import DEMO_CODE, install_services, lookup, subscribe


@pytest.fixture
def services(tmp_path: Path) -> Iterator[DossierServices]:
    """Seeded dossier services over a fresh data dir."""
    yield from install_services(tmp_path)


async def test_injected_last_code_without_verification_is_refused(services: DossierServices) -> None:
    # What POST /conversations/<id>/tracker/events could do: set last_dossier_code, then trigger the subscription.
    reply = await subscribe("web:intruder", DEMO_CODE)
    assert services.subscriptions.all() == []
    assert "tra cứu hồ sơ trước" in reply
    assert [e.outcome for e in services.audit.entries()] == ["subscribe_refused"]


async def test_someone_elses_verification_does_not_count(services: DossierServices) -> None:
    slots, _ = await lookup(DEMO_CODE, "6789", "zalo:owner")
    assert slots["last_dossier_code"] == DEMO_CODE
    await subscribe("web:intruder", DEMO_CODE)
    assert services.subscriptions.all() == []
    await subscribe("zalo:owner", DEMO_CODE)
    assert [(s.sender, s.code) for s in services.subscriptions.all()] == [("zalo:owner", DEMO_CODE)]


async def test_verifying_one_code_does_not_open_another(services: DossierServices) -> None:
    await lookup(DEMO_CODE, "6789", "web:me")
    await subscribe("web:me", "000.00.20.H57-240101-0002")
    assert services.subscriptions.all() == []


async def test_failed_second_factor_verifies_nothing(services: DossierServices) -> None:
    await lookup(DEMO_CODE, "1111", "web:guess")
    await subscribe("web:guess", DEMO_CODE)
    assert services.subscriptions.all() == []


def test_verified_pairs_expire_and_are_stored_hashed_only(tmp_path: Path) -> None:
    from dossier.verification import VerifiedPairs

    pairs = VerifiedPairs(StateDB(tmp_path / "state.db"), Hasher(b"k"), ttl_s=600)
    pairs.record("tg:42", DEMO_CODE, now=1000.0)
    assert pairs.is_verified("tg:42", DEMO_CODE, now=1599.0)
    assert not pairs.is_verified("tg:42", DEMO_CODE, now=1600.0)
    assert not pairs.is_verified("tg:43", DEMO_CODE, now=1001.0)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"tg:42" not in raw and DEMO_CODE.encode() not in raw
