"""Failure limits per sender and per code, persisted; lookup audit without personal data."""

from __future__ import annotations

from pathlib import Path

from rasa_sdk.executor import CollectingDispatcher

from bot.actions.dossier import ActionCheckDossier
from dossier.audit import AuditLog
from dossier.limits import FailureLimiter
from dossier.seed import DEMO_CCCD, DEMO_NAME, DEMO_PHONE
from dossier.services import DossierServices
from dossier.store import Hasher, StateDB

from .conftest import DEMO_CODE, make_tracker, slot_sets


async def check(code: str, digits: str, sender: str) -> tuple[dict[str, object], str]:
    """Run one lookup; return (slot sets, reply text)."""
    tracker = make_tracker(digits, slots={"dossier_code": code, "verification_digits": digits}, sender=sender)
    dispatcher = CollectingDispatcher()
    events = await ActionCheckDossier().run(dispatcher, tracker, {})
    return slot_sets(events), dispatcher.messages[0]["text"]


async def test_sender_locked_after_five_failures(services: DossierServices) -> None:
    for i in range(4):
        _, text = await check(f"000.00.20.H57-240101-09{i:02d}", "6789", "web:attacker")
        assert "tạm khóa" not in text
    _, text = await check("000.00.20.H57-240101-0950", "6789", "web:attacker")
    assert "tạm khóa" in text and "1900 1234" in text
    # even the right answer is refused while locked, and reveals nothing
    slots, text = await check(DEMO_CODE, "6789", "web:attacker")
    assert "last_dossier_code" not in slots and "tạm khóa" in text and "Cấp giấy phép" not in text
    # another sender is not affected
    slots, _ = await check(DEMO_CODE, "6789", "web:owner")
    assert slots["last_dossier_code"] == DEMO_CODE


async def test_code_locked_after_ten_failures_across_senders(services: DossierServices) -> None:
    for i in range(10):
        await check(DEMO_CODE, "0000", f"zalo:{i}")
    slots, text = await check(DEMO_CODE, "6789", "zalo:owner")
    assert "last_dossier_code" not in slots and "Mã hồ sơ này" in text and "1900 1234" in text
    slots, _ = await check("000.00.20.H57-240101-0002", "0000", "zalo:owner")
    assert "last_dossier_code" not in slots


def test_limits_survive_restart_and_expire(tmp_path: Path) -> None:
    hasher = Hasher(b"k")
    limiter = FailureLimiter(StateDB(tmp_path / "s.db"), hasher, max_per_sender=2, sender_window_s=3600)
    limiter.record_failure("web:x", "c1", now=1000.0)
    limiter.record_failure("web:x", "c2", now=1001.0)
    restarted = FailureLimiter(StateDB(tmp_path / "s.db"), hasher, max_per_sender=2, sender_window_s=3600)
    assert restarted.check("web:x", now=1002.0).sender_locked
    assert not restarted.check("web:x", now=1001.0 + 3601).sender_locked


def test_limits_from_settings(services: DossierServices) -> None:
    assert services.limiter.max_per_sender == 5 and services.limiter.max_per_code == 10
    assert services.limiter.sender_window_s == 3600 and services.limiter.code_window_s == 86400


async def test_every_lookup_audited_without_personal_data(services: DossierServices) -> None:
    await check(DEMO_CODE, "6789", "web:abc")
    await check(DEMO_CODE, "1234", "web:abc")
    await check("000.00.20.H57-240101-0999", "6789", "tg:42")
    entries = services.audit.entries()
    assert [e.outcome for e in entries] == ["not_found", "wrong_digits", "ok"]
    assert [e.channel for e in entries] == ["tg", "web", "web"]
    assert entries[1].sender_hash == entries[2].sender_hash != entries[0].sender_hash
    assert entries[1].code_hash == services.hash(DEMO_CODE) and len(entries[0].code_hash) == 24
    raw = b"".join(p.read_bytes() for p in services.settings.data_dir.glob("dossier_state.db*"))
    for secret in (DEMO_CODE, "web:abc", DEMO_PHONE, DEMO_CCCD, DEMO_NAME, "6789"):
        assert secret.encode() not in raw, secret


def test_audit_rejects_unknown_outcome(tmp_path: Path) -> None:
    audit = AuditLog(StateDB(tmp_path / "s.db"), Hasher(b"k"))
    try:
        audit.record("web", "web:1", DEMO_CODE, "hacked")
    except ValueError:
        return
    raise AssertionError("unknown outcome accepted")


def test_hash_key_file_created_once(tmp_path: Path) -> None:
    a = Hasher.from_settings("", tmp_path)
    b = Hasher.from_settings("", tmp_path)
    assert a("x") == b("x") and (tmp_path / ".hash_key").stat().st_mode & 0o077 == 0
    assert Hasher.from_settings("other", tmp_path)("x") != a("x")
