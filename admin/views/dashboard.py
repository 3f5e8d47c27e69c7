"""The home page: usage over the last 7/30/90 days with SVG charts."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from aiohttp import web
from markupsafe import Markup

from admin import dashboard
from admin.context import CONSOLE_KEY, Console, render

log = logging.getLogger("admin")


def _aware(value: datetime) -> datetime:
    """A datetime with a time zone (UTC when it had none)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def compute_stats(console: Console, days: int) -> dashboard.Stats:
    """Compute the dashboard numbers (worker thread)."""
    day_list, since = dashboard.period(days)
    stats = dashboard.Stats(day_list)
    try:
        if console.analytics is not None:  # the event broker's table, read forward from the last row folded
            console.analytics.refresh()
            console.analytics.fill(stats)
        else:
            dashboard.tracker_stats(stats, console.tracker.events(since))
    except Exception as exc:  # no table yet, unreachable PostgreSQL, ...
        log.warning("dashboard: conversation events unreadable: %s", exc)
        stats.notes.append("Chưa đọc được kho hội thoại của Rasa (tracker store); số liệu hội thoại để trống.")
    since_dt = datetime.fromtimestamp(since, timezone.utc)
    stats.unanswered = sum(
        1 for q in console.inbox.questions(status=None, limit=1_000_000) if _aware(q.created_at) >= since_dt
    )
    by_code: dict[str, list[int]] = {}
    for row in console.feedback.rows(since):
        up = row["rating"] == "up"
        stats.feedback_up += up
        stats.feedback_down += not up
        if row["procedure_code"]:
            pair = by_code.setdefault(row["procedure_code"], [0, 0])
            pair[0 if up else 1] += 1
    stats.feedback_by_code = {code: (pair[0], pair[1]) for code, pair in by_code.items()}
    stats.handoffs = sum(1 for h in console.handoff_queue.requests(None, 100_000) if h["created_at"] >= since)
    return stats


async def home(request: web.Request) -> web.StreamResponse:
    """Usage over the last 7/30/90 days with SVG charts."""
    console = request.app[CONSOLE_KEY]
    days = request.query.get("days", "30")
    n = int(days) if days in ("7", "30", "90") else 30
    stats = await asyncio.to_thread(compute_stats, console, n)
    desk_stats = await asyncio.to_thread(console.live.stats, dashboard.period(n)[1])
    codes = [code for code, _ in stats.top_procedures] + list(stats.feedback_by_code)
    titles = {c: p.title for c, p in (await asyncio.to_thread(console.catalogue.get_many, codes)).items()}
    top = [(f"{code} · {titles.get(code, '(không còn trong danh mục)')}", count)
           for code, count in stats.top_procedures]
    disliked = sorted(stats.feedback_by_code.items(), key=lambda kv: (-kv[1][1], kv[0]))[:10]
    return await render(
        request, "dashboard.html", stats=stats, days=n,
        conversations_svg=Markup(dashboard.stacked_bars_svg(stats.days, stats.conversations)),
        top_svg=Markup(dashboard.hbars_svg(top)) if top else "",
        channels=sorted(stats.conversations), colours=dashboard.CHANNEL_COLOURS,
        disliked=[(code, titles.get(code, ""), up, down) for code, (up, down) in disliked],
        open_handoffs=(await asyncio.to_thread(console.handoff_queue.counts)).get("open", 0),
        unanswered_new=await asyncio.to_thread(console.inbox.count, "new"),
        code_alerts=await asyncio.to_thread(console.code_alerts), desk=desk_stats,
    )
