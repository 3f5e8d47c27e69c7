"""Review of past hand-overs: a date range, response and resolution times, CSV/XLSX export (masked)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from openpyxl import Workbook

from admin.context import CHANNEL_LABELS, CONSOLE_KEY, audit, render
from admin.dashboard import LOCAL_TZ
from common.text import mask_pii
from desk.live import OUTCOMES, LiveDesk

MAX_DAYS = 366
COLUMNS = ("id", "channel", "citizen", "topic", "started_by", "created", "claimed_by", "first_reply_wait_s",
           "resolution_s", "status", "outcome", "closed_by", "messages")


def date_range(query: Any) -> tuple[date, date]:
    """``from``/``to`` (YYYY-MM-DD, Vietnam dates, both included); the last 7 days when absent or malformed."""
    today = datetime.now(LOCAL_TZ).date()
    try:
        end = date.fromisoformat(query.get("to", "")) if query.get("to") else today
        start = date.fromisoformat(query.get("from", "")) if query.get("from") else end - timedelta(days=6)
    except ValueError:
        end, start = today, today - timedelta(days=6)
    if start > end:
        start, end = end, start
    return max(start, end - timedelta(days=MAX_DAYS - 1)), end


def _epoch(day: date) -> float:
    """Midnight of ``day`` in Vietnam, as epoch seconds."""
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).timestamp()


def _local(ts: float | None) -> str:
    """A timestamp as Vietnam local time (ISO, minutes)."""
    return datetime.fromtimestamp(ts, LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if ts else ""


def rows_between(live: LiveDesk, start: date, end: date) -> list[dict[str, Any]]:
    """Sessions created in the range, one flat masked row each (worker thread)."""
    out = []
    for row in live.history(_epoch(start), _epoch(end + timedelta(days=1))):
        created = float(row["created_at"])
        out.append({
            "id": row["id"], "channel": CHANNEL_LABELS.get(row["channel"], row["channel"]),
            "citizen": mask_pii(str(row["sender_id"])), "topic": row["topic"], "started_by": row["started_by"],
            "created": _local(created), "claimed_by": row["claimed_by"],
            "first_reply_wait_s": round(row["first_reply_at"] - created) if row["first_reply_at"] else "",
            "resolution_s": round(row["closed_at"] - created) if row["closed_at"] else "",
            "status": row["status"], "outcome": OUTCOMES.get(row["outcome"], row["outcome"]),
            "closed_by": row["closed_by"], "messages": len(live.messages(int(row["id"]))),
        })
    return out


async def desk_history(request: web.Request) -> web.StreamResponse:
    """Past hand-overs in a date range with their response and resolution times."""
    start, end = date_range(request.query)
    live = request.app[CONSOLE_KEY].live
    rows = await asyncio.to_thread(rows_between, live, start, end)
    stats = await asyncio.to_thread(live.stats, _epoch(start))
    return await render(request, "desk_history.html", rows=rows, start=start, end=end, stats=stats)


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """CSV with a header row (UTF-8 with BOM so spreadsheet programs read the diacritics)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value: Any) -> Any:
    """A value that no spreadsheet runs as a formula."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def to_xlsx(rows: list[dict[str, Any]], messages: dict[int, list[dict[str, Any]]]) -> bytes:
    """A workbook: one sheet of hand-overs, one of their messages (masked)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "handovers"
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([_cell(row[c]) for c in COLUMNS])
    lines = book.create_sheet("messages")
    lines.append(["handover", "time", "kind", "author", "text"])
    for session_id, items in messages.items():
        for m in items:
            lines.append([session_id, _local(m["at"]), m["kind"], m["author"], _cell(mask_pii(m["text"]))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def desk_export(request: web.Request) -> web.StreamResponse:
    """Download the range as CSV (hand-overs) or XLSX (hand-overs and messages); audited."""
    start, end = date_range(request.query)
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        raise web.HTTPBadRequest()
    live = request.app[CONSOLE_KEY].live
    rows = await asyncio.to_thread(rows_between, live, start, end)
    name = f"handovers-{start.isoformat()}-{end.isoformat()}.{fmt}"
    if fmt == "csv":
        body, kind = await asyncio.to_thread(to_csv, rows), "text/csv; charset=utf-8"
    else:
        messages = {int(r["id"]): await asyncio.to_thread(live.messages, int(r["id"])) for r in rows}
        body = await asyncio.to_thread(to_xlsx, rows, messages)
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    await audit(request, "desk.export", name, None, {"rows": len(rows)})
    return web.Response(body=body, headers={"Content-Type": kind,
                                            "Content-Disposition": f'attachment; filename="{name}"'})
