# mypy: allow-untyped-defs
"""History, CSV/XLSX export (masked, editors only), the dashboard figures, /metrics and retention."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from desk_client import Staff
from handover_fakes import RasaDouble
from openpyxl import load_workbook

from connectors.app import create_app
from connectors.config import GatewaySettings
from desk.live import LiveDesk
from desk.retention import purge


@pytest.fixture
async def console(data_dir: Path, catalogue: Any, aiohttp_server: Any, aiohttp_client: Any) -> dict[str, Any]:
    rasa = await aiohttp_server(RasaDouble(catalogue).app())
    client = await aiohttp_client(create_app(GatewaySettings(data_dir=data_dir, rasa_url=f"http://127.0.0.1:{rasa.port}"),
                                             channels=[]))
    live = LiveDesk(data_dir / "live.db")
    answered, _ = live.start("zalo:u100", "zalo", topic="procedure:1.004194",
                             history=[{"from": "user", "text": "sđt 0912345678"}])
    live.claim(answered["id"], "editor")
    live.add_message(answered["id"], "staff", "=HYPERLINK(\"http://x\") gọi 0987654321", "editor")
    live.close(answered["id"], "editor", "resolved")
    gave_up, _ = live.start("tg:55", "telegram")
    live.close(gave_up["id"], "citizen", "returned_to_bot")
    live.start("web:waitingcitizen", "web")
    return {"client": client, "live": live, "make": aiohttp_client, "ids": (answered["id"], gave_up["id"])}


async def test_history_and_csv_export_are_masked(console):
    editor = await Staff(await console["make"](console["client"].server)).login("editor")
    page = await (await editor.client.get("/admin/desk/history")).text()
    assert "3 lượt chuyển" in page and "1 bỏ dở" in page and "0912345678" not in page
    response = await editor.client.get("/admin/desk/export?format=csv")
    assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
    body = (await response.read()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 3
    resolved = next(r for r in rows if r["id"] == str(console["ids"][0]))
    assert resolved["outcome"] == "Đã giải quyết" and resolved["first_reply_wait_s"] != ""
    assert resolved["citizen"] == "zalo:u100" and resolved["messages"] == "2"


async def test_xlsx_export_has_messages_masked_and_no_formulas(console):
    editor = await Staff(await console["make"](console["client"].server)).login("editor")
    today = datetime.now(timezone(timedelta(hours=7))).date()
    response = await editor.client.get(f"/admin/desk/export?format=xlsx&from={today}&to={today}")
    assert response.status == 200
    book = load_workbook(io.BytesIO(await response.read()))
    assert book.sheetnames == ["handovers", "messages"]
    texts = [row[4] for row in book["messages"].iter_rows(min_row=2, values_only=True)]
    assert len(texts) == 2 and book["handovers"].max_row == 4
    assert not any("0912345678" in t or "0987654321" in t for t in texts)
    assert any(t.startswith("'=HYPERLINK") for t in texts)  # a citizen's or staff's text never runs as a formula
    assert (await editor.client.get("/admin/desk/export?format=pdf")).status == 400
    far = await editor.client.get("/admin/desk/export?format=csv&from=2000-01-01&to=2100-01-01")
    assert (await far.read()).decode("utf-8-sig").count("\n") == 1  # at most a year back from "to": header only


async def test_viewer_reads_history_but_cannot_export(console):
    viewer = await Staff(await console["make"](console["client"].server)).login("viewer")
    assert (await viewer.client.get("/admin/desk/history")).status == 200
    assert (await viewer.client.get("/admin/desk/export?format=csv")).status == 403


async def test_dashboard_and_metrics_show_the_desk(console):
    viewer = await Staff(await console["make"](console["client"].server)).login("viewer")
    page = await (await viewer.client.get("/admin/?days=7")).text()
    assert 'id="kpi-desk"' in page and "1 bỏ dở" in page and "1 đang chờ" in page
    metrics = await (await console["client"].get("/metrics")).text()
    assert 'tthc_handover_waiting{channel="web"} 1' in metrics
    assert 'tthc_handover_started_24h{channel="all"} 3' in metrics
    assert 'tthc_handover_abandoned_24h{channel="all"} 1' in metrics
    assert "tthc_handover_first_reply_wait_median_seconds_24h" in metrics


def test_retention_deletes_closed_hand_overs(data_dir: Path, catalogue: Any):
    from desk.unanswered import UnansweredInbox

    live = LiveDesk(data_dir / "live.db")
    old, _ = live.start("tg:1", "telegram")
    live.close(old["id"], "x", "resolved")
    live.start("tg:2", "telegram")
    inbox = UnansweredInbox(catalogue.engine)
    report = purge(data_dir, inbox, f"sqlite:///{data_dir / 'tracker.db'}", 0, now=time.time() + 10)
    assert report.handoffs == 1 and live.get(old["id"]) is None and live.live_for("tg:2") is not None
