"""Delivery reports: a final status survives an intermediate one that arrives after it."""

from __future__ import annotations

from pathlib import Path

from connectors.channels.sms_state import SmsState


async def test_a_late_smsc_ack_does_not_overwrite_delivered(tmp_path: Path) -> None:
    state = SmsState(tmp_path / "sms.sqlite3")
    await state.dlr_sent("ref-1", "h")
    assert await state.dlr_report("ref-1", 1, "ACK")
    assert await state.dlr_report("ref-1", 8, "ACK")  # smsbox's callbacks run concurrently: 8 can come second
    assert await state.dlr_status("ref-1") == 1


async def test_intermediate_reports_advance_to_final(tmp_path: Path) -> None:
    state = SmsState(tmp_path / "sms.sqlite3")
    await state.dlr_sent("ref-2", "h")
    assert await state.dlr_report("ref-2", 8, "")
    assert await state.dlr_status("ref-2") == 8
    assert await state.dlr_report("ref-2", 2, "failed")
    assert await state.dlr_report("ref-2", 1, "")
    assert await state.dlr_status("ref-2") == 2


async def test_an_unknown_reference_is_reported_as_such(tmp_path: Path) -> None:
    state = SmsState(tmp_path / "sms.sqlite3")
    assert not await state.dlr_report("nope", 1, "")
