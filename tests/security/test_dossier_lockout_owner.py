"""§4: throwaway senders can lock a code's 4-digit check, but not its owner out; staff are told."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dossier.seed import DEMO_CCCD, DEMO_PHONE
from dossier.services import DossierServices

from .dossier_rig import DEMO_CODE, form_value, install_services, lookup


@pytest.fixture
def services(tmp_path: Path) -> Iterator[DossierServices]:
    """Seeded dossier services over a fresh data dir."""
    yield from install_services(tmp_path)


async def attack(code: str = DEMO_CODE, tries: int = 10) -> None:
    """Wrong 4 digits from throwaway sender ids, as many as lock the code."""
    for i in range(tries):
        await lookup(code, f"{i:04d}" if i != 6789 else "0000", f"zalo:throwaway-{i}")


async def test_owner_gets_through_with_whole_phone_or_cccd_while_the_code_is_locked(services: DossierServices) -> None:
    await attack()
    slots, text = await lookup(DEMO_CODE, "6789", "zalo:owner")  # the 4 digits stay locked
    assert "last_dossier_code" not in slots and "CCCD (12 số)" in text
    for sender, factor in (("zalo:owner", "0912 346 789"), ("tg:owner", "+84 912.346.789"),
                           ("web:owner", DEMO_CCCD)):
        slots, text = await lookup(DEMO_CODE, await form_value(factor, sender), sender)
        assert slots.get("last_dossier_code") == DEMO_CODE, (factor, text)
        assert "Đang được giải quyết" in text
    outcomes = [e.outcome for e in services.audit.entries()]
    assert outcomes.count("ok_full") == 3


async def test_whole_number_is_checked_exactly_and_four_digits_never_pass(services: DossierServices) -> None:
    await attack()
    wrong_phone = "09" + "00000" + DEMO_PHONE[-3:]  # same last digits would pass a 4-digit check
    for factor in (wrong_phone, "0" * 8 + DEMO_CCCD[-4:], DEMO_PHONE[-4:], DEMO_CCCD[-4:]):
        slots, _ = await lookup(DEMO_CODE, factor, "zalo:guesser")
        assert "last_dossier_code" not in slots, factor


async def test_staff_see_the_attack_once_in_the_audit_and_on_the_dashboard_list(services: DossierServices) -> None:
    await attack(tries=9)
    assert services.alerts.active() == []
    await attack(tries=3)
    alerts = services.alerts.active()
    assert [a.code for a in alerts] == [DEMO_CODE]
    assert alerts[0].until_ts > alerts[0].last_ts >= alerts[0].first_ts
    assert [e.outcome for e in services.audit.entries()].count("code_locked") == 1
    assert services.alerts.active(now=alerts[0].until_ts + 1) == []


async def test_the_form_keeps_a_whole_number_for_the_action(services: DossierServices) -> None:
    for text, kept in (("cccd của tôi 001 085 012 345", DEMO_CCCD), ("sdt +84912346789", DEMO_PHONE),
                       ("6789", "6789"), ("so cuoi 6 7 8 9", "6789")):
        assert await form_value(text, "web:owner") == kept, text
    # The NLU may tag only the last 4 digits of a whole number as the entity: the whole number still wins.
    assert await form_value(DEMO_CCCD, "web:owner", entity=DEMO_CCCD[-4:]) == DEMO_CCCD


@pytest.mark.parametrize(("text", "factor"), [
    ("001 085 012 345", DEMO_CCCD), ("001.085.012.345", DEMO_CCCD), ("(091) 234-6789", "0912346789"),
    ("0084 912 346 789", DEMO_PHONE), ("4 số cuối 6789", "6789"), ("sáu bảy tám chín", "6789"),
    ("mã 000.00.20.H57-240101-0001", None), ("12345678901234", None),
])
def test_second_factor_table(text: str, factor: str | None) -> None:
    from dossier.codes import extract_second_factor

    assert extract_second_factor(text) == factor
