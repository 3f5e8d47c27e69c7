"""Two-stage fallback: first miss asks to rephrase, second miss in a row offers a human."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.procedures import ActionAnswerProcedure, send_reply
from bot.trackers import channel_of
from desk.unanswered import UnansweredInbox
from knowledge import answers
from knowledge.bounds import Busy
from knowledge.service import KnowledgeService, shared_service

logger = logging.getLogger(__name__)

MENU_BUTTONS = [
    {"title": "Hỏi thủ tục", "payload": "/ask_procedure"},
    {"title": "Tra cứu hồ sơ", "payload": "/check_status"},
    {"title": "Gặp tổng đài viên", "payload": "/request_human"},
]


def previous_misses(events: list[dict[str, Any]]) -> int:
    """Count the user turns just before the current one that the fallback could not answer.

    Such a turn was answered by ``action_fallback`` and then rewound (``UserUtteranceReverted``).
    """
    turns: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            turns.append({"first": None, "rewound": False})
        elif not turns:
            continue
        elif kind == "action" and turns[-1]["first"] is None:
            if event.get("name") not in ("action_listen", "action_session_start", None):
                turns[-1]["first"] = event["name"]
        elif kind == "rewind":
            turns[-1]["rewound"] = True
    misses = 0
    # The last user turn is the current one, still being answered.
    for turn in reversed(turns[:-1]):
        if turn["first"] != "action_fallback" or not turn["rewound"]:
            break
        misses += 1
    return misses


class ActionFallback(Action):
    """Never loops: after two misses in a row it offers a human, then starts over.

    Citizens name procedures in ways the intent classifier has never seen, so before admitting a
    miss it asks the catalogue: a confident, unambiguous match is answered like ``ask_procedure``.
    """

    def __init__(self, service: KnowledgeService | None = None, inbox: UnansweredInbox | None = None) -> None:
        """Share the knowledge service (and its loaded model) and the unanswered inbox with the procedure action."""
        self.service = service or shared_service()
        self.procedures = ActionAnswerProcedure(self.service, inbox)
        self.inbox = self.procedures.inbox

    def name(self) -> str:
        """Action name."""
        return "action_fallback"

    def _confident_procedure(self, text: str) -> bool:
        """True when the catalogue has exactly one clearly matching procedure for the text."""
        return self.service.decide(self.service.search(text, top_k=5)).kind == "answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer from the catalogue if it clearly matches, else reply by how many misses came before."""
        text = str(tracker.latest_message.get("text") or "").strip()
        if text and not text.startswith("/"):
            if self.service.is_noise(text):
                send_reply(dispatcher, answers.ask_shorter())
                return [UserUtteranceReverted()]
            loop = asyncio.get_running_loop()
            try:
                if await self.service.pool(text).run(lambda: self._confident_procedure(text)):
                    return await self.procedures.run(dispatcher, tracker, domain)
                await loop.run_in_executor(
                    None, lambda: self.inbox.log(text, channel_of(tracker), tracker.sender_id)
                )
            except Busy as exc:
                logger.warning("action_fallback could not search now: %s", exc)
                send_reply(dispatcher, answers.ask_shorter() if self.service.is_long(text) else answers.busy())
                return [UserUtteranceReverted()]
            except Exception:
                logger.exception("catalogue lookup in the fallback failed")
        if previous_misses(tracker.events) % 2 == 0:
            dispatcher.utter_message(
                text=(
                    "Xin lỗi, em chưa hiểu rõ ý anh/chị. Anh/chị có thể nói rõ hơn được không ạ? "
                    'Ví dụ: "làm căn cước cần giấy tờ gì" hoặc "tra cứu hồ sơ 000.00.20.H57-240101-0001".'
                ),
                buttons=MENU_BUTTONS,
            )
        else:
            dispatcher.utter_message(
                text=(
                    "Em vẫn chưa hiểu được yêu cầu này, em xin lỗi. "
                    "Anh/chị có muốn em kết nối với tổng đài viên để được hỗ trợ trực tiếp không ạ?"
                ),
                buttons=[MENU_BUTTONS[2], MENU_BUTTONS[0], MENU_BUTTONS[1]],
            )
        # Forget the misunderstood turn so it does not steer the dialogue policy.
        return [UserUtteranceReverted()]
