"""Usage statistics for the dashboard (Rasa tracker store, unanswered log, feedback) and SVG charts."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from common.channels import channel_from

log = logging.getLogger(__name__)

CHANNEL_COLOURS = {"web": "#2563eb", "telegram": "#0ea5e9", "zalo": "#16a34a", "voice": "#d97706", "rest": "#6b7280"}
MAX_EVENTS = 500_000
LOCAL_TZ = timezone(timedelta(hours=7))  # Vietnam has no daylight saving time


@dataclass
class Stats:
    """What the dashboard shows for a period."""

    days: list[date]
    conversations: dict[str, list[int]] = field(default_factory=dict)  # channel -> per day
    user_turns: int = 0
    procedure_questions: int = 0
    unanswered: int = 0
    fallbacks: int = 0
    top_procedures: list[tuple[str, int]] = field(default_factory=list)
    response_times: list[float] = field(default_factory=list)
    feedback_up: int = 0
    feedback_down: int = 0
    feedback_by_code: dict[str, tuple[int, int]] = field(default_factory=dict)
    handoffs: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total_conversations(self) -> int:
        """Conversations (sender-days) in the period."""
        return sum(sum(v) for v in self.conversations.values())

    @property
    def answer_rate(self) -> float | None:
        """Share of procedure questions answered with a procedure."""
        if not self.procedure_questions:
            return None
        return max(0.0, 1.0 - self.unanswered / self.procedure_questions)

    @property
    def fallback_rate(self) -> float | None:
        """Share of user turns the bot did not understand."""
        return self.fallbacks / self.user_turns if self.user_turns else None

    @property
    def satisfaction(self) -> float | None:
        """Share of 👍 among ratings."""
        total = self.feedback_up + self.feedback_down
        return self.feedback_up / total if total else None

    def response_time(self, q: float) -> float | None:
        """A quantile (0..1) of bot response times in seconds."""
        if not self.response_times:
            return None
        if len(self.response_times) == 1:
            return self.response_times[0]
        return statistics.quantiles(self.response_times, n=100, method="inclusive")[max(0, min(98, int(q * 100) - 1))]


class TrackerReader:
    """Read-only access to Rasa's SQL tracker store (table ``events``); never creates the database."""

    def __init__(self, url: str) -> None:
        """Remember the URL; the engine is created on first use."""
        self.url = url
        self._engine: Engine | None = None

    def _sqlite_missing(self) -> bool:
        if not self.url.startswith("sqlite:///"):
            return False
        path = self.url.removeprefix("sqlite:///")
        return path not in ("", ":memory:") and not Path(path).is_file()

    def events(self, since: float) -> list[tuple[str, str, float, str | None, str | None, str | None]]:
        """``(sender_id, type_name, timestamp, intent_name, action_name, data)`` since ``since``, in order."""
        if self._sqlite_missing():
            return []
        if self._engine is None:
            self._engine = create_engine(self.url, future=True)
        query = text(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events"
            " WHERE timestamp >= :since ORDER BY sender_id, timestamp, id LIMIT :limit"
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query, {"since": since, "limit": MAX_EVENTS}).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def close(self) -> None:
        """Release the pool."""
        if self._engine is not None:
            self._engine.dispose()


def _day(ts: float) -> date:
    return datetime.fromtimestamp(ts, LOCAL_TZ).date()


def _channel(sender: str, data: dict[str, Any]) -> str:
    """The channel of a tracker-store user event."""
    return channel_from(sender, data.get("metadata"))


def tracker_stats(stats: Stats, rows: list[tuple[str, str, float, str | None, str | None, str | None]]) -> None:
    """Fill conversations, turns, fallbacks, top procedures and response times from tracker events."""
    first_day = stats.days[0]
    index = {d: i for i, d in enumerate(stats.days)}
    conversations: dict[str, set[tuple[str, date]]] = defaultdict(set)
    asked: Counter[str] = Counter()
    sender_channel: dict[str, str] = {}
    pending_user: dict[str, float] = {}
    first_action: dict[str, bool] = {}
    for sender, type_name, ts, intent, action, raw in rows:
        if ts is None:
            continue
        if type_name == "user":
            try:
                data = json.loads(raw or "{}")
            except ValueError:
                data = {}
            text_value = str(data.get("text") or "")
            if text_value.startswith("/session_start"):
                continue
            channel = _channel(sender, data)
            sender_channel[sender] = channel
            day = _day(ts)
            if day >= first_day:
                conversations[channel].add((sender, day))
            stats.user_turns += 1
            if intent == "ask_procedure":
                stats.procedure_questions += 1
            if intent == "nlu_fallback":
                stats.fallbacks += 1
                first_action[sender] = False
            else:
                first_action[sender] = True
            pending_user[sender] = ts
        elif type_name == "action" and action not in (None, "action_listen", "action_session_start"):
            if first_action.pop(sender, False) and action == "action_fallback":
                stats.fallbacks += 1
        elif type_name == "bot" and sender in pending_user:
            stats.response_times.append(max(0.0, ts - pending_user.pop(sender)))
        elif type_name == "slot":
            try:
                data = json.loads(raw or "{}")
            except ValueError:
                continue
            if data.get("name") == "procedure_code" and data.get("value"):
                asked[str(data["value"])] += 1
    for channel, pairs in conversations.items():
        series = [0] * len(stats.days)
        for _, day in pairs:
            if day in index:
                series[index[day]] += 1
        stats.conversations[channel] = series
    stats.top_procedures = asked.most_common(10)


def percent(value: float | None) -> str:
    """0.873 → "87,3 %" ("—" when unknown)."""
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def seconds(value: float | None) -> str:
    """1.234 → "1,2 s" ("—" when unknown)."""
    return "—" if value is None else f"{value:.1f} s".replace(".", ",")


def stacked_bars_svg(days: list[date], series: dict[str, list[int]], width: int = 760, height: int = 220) -> str:
    """A stacked bar chart of conversations per day and channel."""
    pad_l, pad_b, pad_t = 36, 28, 10
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    totals = [sum(s[i] for s in series.values()) for i in range(len(days))]
    top = max([*totals, 1])
    bar_w = plot_w / max(1, len(days))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Số cuộc trò chuyện mỗi ngày theo kênh" xmlns="http://www.w3.org/2000/svg">']
    for frac in (0, 0.5, 1):
        y = pad_t + plot_h * (1 - frac)
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                     f"{round(top * frac)}</text>")
    for i, day in enumerate(days):
        x = pad_l + i * bar_w + 1
        y = pad_t + plot_h
        for channel, values in sorted(series.items()):
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            colour = CHANNEL_COLOURS.get(channel, "#9ca3af")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(1.0, bar_w - 2):.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(day.strftime('%d/%m'))} · {escape(channel)}: {value}</title></rect>"
            )
        if len(days) <= 14 or i % max(1, len(days) // 10) == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" font-size="10" text-anchor="middle">'
                         f"{day.strftime('%d/%m')}</text>")
    parts.append("</svg>")
    return "".join(parts)


def hbars_svg(items: list[tuple[str, int]], width: int = 760, colour: str = "#2563eb") -> str:
    """Horizontal bars with labels (e.g. top procedures)."""
    row_h, label_w = 22, 420
    height = max(row_h, row_h * len(items)) + 4
    top = max([n for _, n in items] + [1])
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, n) in enumerate(items):
        y = i * row_h + 2
        w = (width - label_w - 50) * n / top
        short = label if len(label) <= 64 else label[:63] + "…"
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(short)}<title>{escape(label)}</title></text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(1.0, w):.1f}" height="{row_h - 8}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def period(days: int, now: float | None = None) -> tuple[list[date], float]:
    """The last ``days`` local days and the epoch second the first one starts."""
    today = datetime.fromtimestamp(now or time.time(), LOCAL_TZ).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=LOCAL_TZ).timestamp()
    return [first + timedelta(days=i) for i in range(days)], start
