"""Stores keep no phone/CCCD in clear and senders only as keyed hashes; staff pages show them masked (§5)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from admin.store import AdminStore
from common.settings import use_settings
from connectors.app import create_app
from connectors.config import GatewaySettings
from desk.handoffs import HandoffQueue
from desk.privacy import hash_sender
from desk.settings import DeskSettings
from desk.unanswered import UnansweredInbox

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TRANSCRIPT = [
    {"from": "user", "text": "cccd của tôi 001 085 012 345"},
    {"from": "bot", "text": "Dạ, anh/chị cho em số điện thoại."},
    {"from": "user", "text": "(091) 234-6789 hoặc +84 91 234 5678"},
]
CLEAR = ("085 012", "234-6789", "234 5678")


def _digits(text: str) -> str:
    """Only the digits of ``text``."""
    return "".join(ch for ch in text if ch.isdigit())


def test_unanswered_question_is_masked_and_sender_hash_is_keyed(tmp_path: Path) -> None:
    use_settings(DeskSettings(data_dir=tmp_path, hash_key="k1"))
    inbox = UnansweredInbox(f"sqlite:///{tmp_path / 'catalogue.db'}")
    inbox.log("làm lại cccd 001085012345 mất bao lâu, gọi 0912.345.678", "web", "tg:42")
    row = inbox.questions()[0]
    assert "001085012345" not in _digits(row.text) and "0912345678" not in _digits(row.text)
    assert "001085012345" not in row.folded_text and "0912.345.678" not in row.folded_text
    unkeyed = hashlib.sha256(b"tthc:tg:42").hexdigest()[:32]
    assert row.sender_hash != unkeyed and row.sender_hash == hash_sender("tg:42")
    use_settings(DeskSettings(data_dir=tmp_path, hash_key="k2"))
    assert hash_sender("tg:42") != row.sender_hash  # the installation's key, not a fixed salt


def test_handoff_transcript_is_masked_before_storing(tmp_path: Path) -> None:
    queue = HandoffQueue(tmp_path / "handoff.db")
    ticket = queue.add("web:1", "web", TRANSCRIPT)
    queue.add_reply(ticket, "staff", "em gọi lại số 0912 345 678 nhé")
    with sqlite3.connect(tmp_path / "handoff.db") as conn:
        stored = conn.execute("SELECT transcript FROM handoffs").fetchone()[0]
        reply = conn.execute("SELECT text FROM handoff_replies").fetchone()[0]
    text = " ".join(line["text"] for line in json.loads(stored))
    assert not any(clear in text for clear in CLEAR), text
    assert "345 678" not in reply


async def test_handoff_page_shows_old_clear_transcripts_masked(tmp_path: Path, aiohttp_client: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADMIN_SEMANTIC_SEARCH", "0")
    for name in ("CATALOGUE_DB_URL", "TRACKER_STORE_URL", "ADMIN_ENABLED", "GATEWAY_PUSH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    AdminStore(tmp_path / "admin.db").create_user("viewer", "viewer-pass-123456", "viewer")
    queue = HandoffQueue(tmp_path / "handoff.db")
    ticket = queue.add("web:1", "web", [])
    with queue.db.transaction() as conn:  # a request stored in clear by an older version
        conn.execute("UPDATE handoffs SET transcript = ? WHERE id = ?", (json.dumps(TRANSCRIPT), ticket))
    client = await aiohttp_client(create_app(GatewaySettings(data_dir=tmp_path, rasa_url="http://127.0.0.1:9"),
                                             channels=[]))
    token = CSRF_RE.search(await (await client.get("/admin/login")).text()).group(1)
    await client.post("/admin/login", data={"csrf_token": token, "username": "viewer",
                                            "password": "viewer-pass-123456", "next": "/admin/"})
    for path in (f"/admin/handoffs/{ticket}", "/admin/handoffs"):
        page = await (await client.get(path)).text()
        assert "cccd" in page or "+**" in page or "***" in page, page[:500]
        assert not any(clear in page for clear in CLEAR), path
