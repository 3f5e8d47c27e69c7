"""Phone numbers of SMS users are deleted once they have not texted for the retention age."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connectors.channels.sms_state import SmsState


async def test_prune_deletes_numbers_older_than_the_cutoff(tmp_path: Path) -> None:
    state = SmsState(tmp_path / "sms.sqlite3")
    await state.remember_number("old", "0912345678")
    await state.remember_number("new", "0987654321")
    await state.dlr_sent("ref-old", "old")
    await state.set_more("old", "phần sau")
    with sqlite3.connect(tmp_path / "sms.sqlite3") as db:
        db.execute("UPDATE numbers SET at=? WHERE hash='old'", (time.time() - 100 * 86400,))
        db.execute("UPDATE dlr SET updated_at=? WHERE ref='ref-old'", (time.time() - 100 * 86400,))
        db.execute("UPDATE more SET at=? WHERE hash='old'", (time.time() - 100 * 86400,))
    deleted = await state.prune(time.time() - 90 * 86400)
    assert deleted == 3
    assert await state.number("old") is None
    assert await state.number("new") == "0987654321"
    assert await state.dlr_status("ref-old") is None
    assert await state.prune(time.time() - 90 * 86400) == 0


async def test_a_new_message_keeps_the_number(tmp_path: Path) -> None:
    state = SmsState(tmp_path / "sms.sqlite3")
    await state.remember_number("h", "0912345678")
    with sqlite3.connect(tmp_path / "sms.sqlite3") as db:
        db.execute("UPDATE numbers SET at=? WHERE hash='h'", (time.time() - 100 * 86400,))
    await state.remember_number("h", "0912345678")
    assert await state.prune(time.time() - 90 * 86400) == 0
    assert await state.number("h") == "0912345678"
