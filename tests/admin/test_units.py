# mypy: allow-untyped-defs
"""Dashboard statistics from a tracker store, grouping, forms and the account CLI."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from admin import __main__ as cli
from admin import dashboard, forms
from admin.grouping import group_questions
from admin.store import AdminStore
from desk.unanswered import UnansweredQuestion
from knowledge.schema import Channel, Procedure


def _tracker_db(path: Path, rows: list[tuple[str, str, float, str | None, str | None, dict[str, Any]]]) -> str:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255)"
               " NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
    db.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data)"
                   " VALUES (?, ?, ?, ?, ?, ?)", [(*r[:5], json.dumps(r[5])) for r in rows])
    db.commit()
    db.close()
    return f"sqlite:///{path}"


def test_dashboard_numbers_from_the_tracker_store(tmp_path: Path):
    now = time.time()
    web, tg = {"metadata": {"channel": "web"}}, {"metadata": {"channel": "telegram"}}
    url = _tracker_db(tmp_path / "tracker.db", [
        ("web:a", "user", now - 10, "ask_procedure", None, web),
        ("web:a", "action", now - 9.5, None, "action_answer_procedure", {}),
        ("web:a", "bot", now - 9, None, None, {"text": "…"}),
        ("web:a", "slot", now - 9, None, None, {"name": "procedure_code", "value": "1.004194"}),
        ("web:a", "user", now - 5, "nlu_fallback", None, web),
        ("web:a", "bot", now - 4, None, None, {"text": "…"}),
        ("tg:1", "user", now - 8, "ask_procedure", None, tg),
        ("tg:1", "action", now - 7.8, None, "action_answer_procedure", {}),
        ("tg:1", "bot", now - 7, None, None, {"text": "…"}),
        ("tg:1", "slot", now - 7, None, None, {"name": "procedure_code", "value": "1.004194"}),
        ("tg:1", "user", now - 3, "greet", None, tg),
        ("tg:1", "action", now - 2.9, None, "action_fallback", {}),
        ("old:1", "user", now - 90 * 86400, "ask_procedure", None, web),
    ])
    days, since = dashboard.period(7)
    stats = dashboard.Stats(days)
    dashboard.tracker_stats(stats, dashboard.TrackerReader(url).events(since))
    assert stats.total_conversations == 2 and stats.conversations["web"][-1] == 1
    assert stats.conversations["telegram"][-1] == 1
    assert stats.user_turns == 4 and stats.procedure_questions == 2 and stats.fallbacks == 2
    assert stats.fallback_rate == 0.5
    assert stats.top_procedures == [("1.004194", 2)]
    assert sorted(stats.response_times) == [1.0, 1.0, 1.0]
    stats.unanswered = 1
    assert stats.answer_rate == 0.5
    svg = dashboard.stacked_bars_svg(stats.days, stats.conversations)
    assert svg.startswith("<svg") and svg.count("<rect") == 2
    assert dashboard.TrackerReader(f"sqlite:///{tmp_path / 'none.db'}").events(0) == []
    assert not (tmp_path / "none.db").exists()


def _q(i: int, text: str, folded: str) -> UnansweredQuestion:
    return UnansweredQuestion(i, text, folded, "web", "", datetime(2025, 1, i, tzinfo=timezone.utc), None, None, "new")


def test_grouping_by_folded_tokens():
    groups = group_questions([
        _q(1, "làm sổ đỏ ở đâu", "lam so do o dau"), _q(2, "lam so do can gi", "lam so do can gi"),
        _q(3, "cấp sổ đỏ lần đầu", "cap so do lan dau"), _q(4, "đổi bằng lái xe", "doi bang lai xe"),
        _q(5, "gọi 0912345678 hỏi sổ đỏ", "goi 0912345678 hoi so do"),
    ])
    assert [g.count for g in groups] == [3, 1, 1]
    assert set(groups[0].ids) == {1, 2, 3}
    assert not any(t.isdigit() for g in groups for t in g.tokens)
    assert all("0912345678" not in t for g in groups for t in g.phrasings)
    assert any(g.count == 1 and "bằng lái" in g.text for g in groups)


def test_form_round_trip_and_fee_rules():
    p = Procedure(code="1.1", title="T", channels=[Channel(name="Trực tiếp", fee_text="50.000 đồng", fee_vnd=50000,
                                                           working_days=2.5)])
    values = forms.procedure_to_form(p)
    same, errors = forms.form_to_procedure(values, p, code="1.1")
    assert errors == {} and same is not None and same.to_dict() == p.to_dict()
    _, errors = forms.form_to_procedure(values | {"ch-0-free": "1"}, p, code="1.1")
    assert "ch-0-fee_vnd" in errors
    assert forms.money_in("Lệ phí: 1.200.000 đồng/lần; miễn 50%") == {1200000, 50}


def test_cli_creates_the_first_admin(tmp_path: Path, monkeypatch: Any, capsys: Any):
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("mot-mat-khau-dai\n"))
    assert cli.main(["create-user", "Root", "--role", "admin", "--password-stdin"]) == 0
    store = AdminStore(tmp_path / "admin.db")
    assert store.check_password("root", "mot-mat-khau-dai").role == "admin"
    assert "mot-mat-khau-dai" not in (tmp_path / "admin.db").read_bytes().decode("latin-1")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["create-user", "other", "--password-stdin"]) == 1
    monkeypatch.setenv("ADMIN_PASSWORD", "mot-mat-khau-khac")
    assert cli.main(["create-user", "root"]) == 1  # already exists
    assert "đã tồn tại" in capsys.readouterr().err
