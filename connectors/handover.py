"""Live hand-over in the gateway: while staff hold a conversation, the citizen's messages go to the desk."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from common.messages import BUSY_TEXT, BotMessage, Push
from common.rasa import RasaClient, RasaUnavailable
from common.rasa_api import RasaEvents
from common.text import fold_diacritics, mask_pii, nfc
from desk.live import LiveDesk
from desk.takeover import Takeover, TakeoverError

log = logging.getLogger("connectors")
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
        self.live = LiveDesk(db_path)
        self.rasa: RasaClient | None = None
        self.takeover: Takeover | None = None

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
