"""Live hand-over in the gateway: while staff hold a conversation, the citizen's messages go to the desk."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.messages import BUSY_TEXT, BotMessage, Push
from common.rasa import RasaClient, RasaUnavailable
from common.rasa_api import RasaEvents
from common.settings import get_settings
from common.text import fold_diacritics, mask_pii, nfc
from connectors.metrics import Metrics
from desk.live import LiveDesk
from desk.settings import DeskSettings
from desk.takeover import Takeover, TakeoverError

log = logging.getLogger("connectors")
METRICS = (
    ("total", "tthc_handover_started_24h", "Hand-overs to staff started in the last 24 hours."),
    ("abandoned", "tthc_handover_abandoned_24h", "Hand-overs of the last 24 hours closed before any staff reply."),
    ("wait_median_s", "tthc_handover_first_reply_wait_median_seconds_24h",
     "Median wait from hand-over to the first staff reply, last 24 hours."),
    ("wait_max_s", "tthc_handover_first_reply_wait_max_seconds_24h",
     "Longest wait from hand-over to the first staff reply, last 24 hours."),
)
# "Trở lại trợ lý ảo" and its everyday variants, compared without diacritics, case or punctuation.
BACK_TO_BOT_RE = re.compile(
    r"\b(?:tro lai|quay lai|quay ve|tro ve|gap|noi chuyen voi) (?:voi )?(?:tro ly ao|bot|chatbot)\b")


def wants_bot(text: str) -> bool:
    """Whether the citizen asks to go back to the virtual assistant."""
    folded = re.sub(r"[^a-z0-9 ]+", " ", fold_diacritics(nfc(text)).lower())
    return bool(BACK_TO_BOT_RE.search(" ".join(folded.split())))


class HandoverRouter:
    """Routes a conversation's messages to the staff desk while a live session holds it."""

    def __init__(self, db_path: Path) -> None:
        """Use the desk's live sessions at ``db_path``; ``bind`` gives it Rasa and the push function."""
        self.live = LiveDesk(db_path, keep_open=True)  # read for every message: no connection per read
        self.rasa: RasaClient | None = None
        self.takeover: Takeover | None = None
        self._waiting: dict[str, float] = {}
        self._day: dict[str, Any] = {}

    def register(self, metrics: Metrics) -> None:
        """Expose the desk's figures in ``/metrics`` (read by ``refresh_metrics``)."""
        metrics.gauge("tthc_handover_waiting", "Citizens waiting for staff now.", lambda: self._waiting)
        for key, name, help_text in METRICS:
            metrics.gauge(name, help_text, self._figure(key))

    def _figure(self, key: str) -> Callable[[], dict[str, float]]:
        """A gauge callback reading one of the day's figures."""
        return lambda: {"all": float(self._day.get(key) or 0.0)}

    async def refresh_metrics(self) -> None:
        """Read the desk's figures for the last 24 hours (before rendering ``/metrics``)."""
        self._waiting = await asyncio.to_thread(self.live.waiting_by_channel)
        self._day = await asyncio.to_thread(self.live.stats, time.time() - 86400)

    def bind(self, rasa: RasaClient, events: RasaEvents, push: Push) -> None:
        """Connect to Rasa's REST channel and HTTP API, and to the gateway's push function."""
        self.rasa = rasa
        self.takeover = Takeover(self.live, events.append, push)

    async def route(self, sender: str, text: str, channel: str) -> list[BotMessage] | None:
        """The citizen's answer when staff hold the conversation; None when the bot answers as usual."""
        if self.rasa is None or self.takeover is None or sender.startswith("call:"):
            return None
        session = await asyncio.to_thread(self.live.live_for, sender)
        if session is None:
            return None
        await asyncio.to_thread(self.live.add_message, int(session["id"]), "citizen", text)
        if wants_bot(text):
            try:
                return [await self.takeover.hand_back(session, "citizen", notify=False)]
            except TakeoverError:
                return [BotMessage(BUSY_TEXT)]
        settings = get_settings(DeskSettings)
        if session["status"] == "waiting" and not settings.desk_open():
            return await self._after_hours(session, sender, text, channel, settings)
        try:
            # Rasa records the message in the paused tracker (NLU and slots run) and predicts nothing.
            answers = await self.rasa.send(sender, text, channel)
        except RasaUnavailable as exc:
            log.warning("hand-over: message of %s not recorded by Rasa: %s", mask_pii(sender), exc)
            return []
        if answers:
            log.warning("hand-over: Rasa answered %s although staff hold it; %d message(s) dropped",
                        mask_pii(sender), len(answers))
        return []

    async def _after_hours(self, session: dict[str, Any], sender: str, text: str, channel: str,
                           settings: DeskSettings) -> list[BotMessage]:
        """Nobody claimed the citizen before closing time: keep the request, say so, and let the bot answer."""
        assert self.rasa is not None and self.takeover is not None
        notice = (f"Dạ, cán bộ đã hết giờ làm việc ({settings.office_hours}). Em đã giữ yêu cầu của anh/chị; "
                  f"cán bộ sẽ nhắn lại tại đây khi vào giờ làm việc. Trong lúc chờ, em tiếp tục trả lời anh/chị ạ.")
        try:
            await self.takeover.desk_closed(session, notice)
        except TakeoverError:
            return [BotMessage(BUSY_TEXT)]
        try:
            answers = await self.rasa.send(sender, text, channel)
        except RasaUnavailable:
            answers = [BotMessage(BUSY_TEXT)]
        return [BotMessage(notice), *answers]
