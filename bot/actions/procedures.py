"""Action answering procedure questions (intent ``ask_procedure``) from the knowledge catalogue."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.trackers import channel_of, entity_of
from common.messages import Button
from desk.unanswered import UnansweredInbox
from knowledge import answers
from knowledge.answers import FACETS, Reply
from knowledge.bounds import Busy
from knowledge.service import KnowledgeService, shared_service

logger = logging.getLogger(__name__)
TOP_K = 5


def send_reply(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Send each text as its own message, buttons on the last one."""
    for i, text in enumerate(reply.texts):
        last = i == len(reply.texts) - 1
        buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons] if last else []
        dispatcher.utter_message(text=text, buttons=buttons)


def _user_text(tracker: Tracker) -> str:
    """The user's words, or "" for a button payload (``/intent{...}``)."""
    text = str(tracker.latest_message.get("text") or "").strip()
    return "" if text.startswith("/") else text


class ActionAnswerProcedure(Action):
    """Answer a facet (documents, fee, time, ...) of the procedure asked about, or ask which one."""

    def __init__(self, service: KnowledgeService | None = None, inbox: UnansweredInbox | None = None) -> None:
        """Load the knowledge service once, when the action server starts; misses go to the desk's inbox."""
        self.service = service or shared_service()
        self.inbox = inbox or UnansweredInbox(self.service.catalogue.engine)

    def name(self) -> str:
        """Action name in the domain."""
        return "action_answer_procedure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Decide in the searches' own pool (bounded, with a deadline), then send the reply."""
        text = _user_text(tracker)
        try:
            if text and self.service.is_noise(text):
                reply, code, facet = answers.ask_shorter(), tracker.get_slot("procedure_code"), None
            else:
                reply, code, facet = await self.service.pool(text).run(lambda: self._decide(tracker))
        except Busy as exc:  # a long question is asked to be shorter rather than told to wait
            logger.warning("action_answer_procedure could not search now: %s", exc)
            reply = answers.ask_shorter() if self.service.is_long(text) else answers.busy()
            code, facet = tracker.get_slot("procedure_code"), None
        except Exception:
            logger.exception("action_answer_procedure failed")
            reply = Reply(
                ["Xin lỗi anh/chị, em đang gặp trục trặc khi tra cứu thủ tục. Anh/chị vui lòng thử lại sau ít phút."],
                [Button("Gặp tổng đài viên", "/request_human")],
            )
            code, facet = tracker.get_slot("procedure_code"), None
        send_reply(dispatcher, reply)
        return [SlotSet("procedure_code", code), SlotSet("facet", facet)]

    def _decide(self, tracker: Tracker) -> tuple[Reply, str | None, str | None]:
        """Return the reply, the procedure now in focus and the facet answered."""
        text = _user_text(tracker)
        facet_entity = entity_of(tracker, "facet")
        facet = facet_entity if facet_entity in FACETS else answers.detect_facet(text)
        code_entity = entity_of(tracker, "procedure_code")
        current = tracker.get_slot("procedure_code")

        if code_entity:
            procedure = self.service.get(code_entity)
            if procedure is not None:
                return answers.answer_procedure(procedure, facet), procedure.code, facet
            if not text:
                return answers.not_found(), current, None
        if not text:
            return answers.ask_which_procedure(), current, None

        if current and answers.is_follow_up(text):
            procedure = self.service.get(current)
            if procedure is not None:
                return answers.answer_procedure(procedure, facet), procedure.code, facet

        hits = self.service.search(text, top_k=TOP_K)
        verdict = self.service.decide(hits)
        if verdict.kind == "not_found":
            best = hits[0] if hits else None
            self.inbox.log(text, channel_of(tracker), tracker.sender_id,
                           best.code if best else None, best.score if best else None)
            return answers.not_found(), current, facet
        if verdict.kind == "clarify":
            return answers.clarify([(h.code, h.title) for h in verdict.candidates], facet), current, facet
        procedure = self.service.get(verdict.candidates[0].code)
        if procedure is None:  # retired between search and read
            return answers.not_found(), current, facet
        return answers.answer_procedure(procedure, facet), procedure.code, facet
