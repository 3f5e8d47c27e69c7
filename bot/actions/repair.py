"""Conversation repair: "không phải", "ý tôi là bằng ô tô", "cái kia" after a procedure answer."""

from __future__ import annotations

import logging
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.procedures import send_reply
from bot.trackers import channel_of
from common.text import normalize_query
from desk.unanswered import UnansweredInbox
from knowledge import answers
from knowledge.answers import Reply
from knowledge.bounds import Busy
from knowledge.service import KnowledgeService, shared_service

logger = logging.getLogger(__name__)
TOP_K = 6
# Words that say "you got it wrong" rather than what was meant (folded, longest first).
_CUES = sorted((
    "khong phai", "ko phai", "k phai", "hong phai", "y toi la", "y em la", "y minh la", "y toi hoi",
    "toi hoi ve", "em hoi ve", "minh hoi ve", "toi muon hoi", "cai kia", "cai khac", "thu tuc khac",
    "thu tuc kia", "sai roi", "nham roi", "khong dung", "chua dung", "khong", "ko", "ma la", "la", "cai",
    "thu tuc", "nay", "do", "a", "ah", "roi", "sai", "nham", "y", "toi", "em", "minh", "hoi", "ve",
), key=len, reverse=True)
_CUE_RE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, _CUES)) + r")(?![a-z0-9])")


def correction_words(text: str) -> str:
    """What the user says they meant, without the words of the repair itself ("" for a bare "không phải")."""
    return " ".join(_CUE_RE.sub(" ", re.sub(r"[^\w\s]", " ", normalize_query(text))).split())


def previous_question(tracker: Tracker) -> str:
    """The user's last typed procedure question before this message ("" when there is none)."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    for event in reversed(users[:-1]):
        text = str(event.get("text") or "").strip()
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/") and intent == "ask_procedure":
            return text
    return ""


class ActionRepairProcedure(Action):
    """Re-search with the correction and the previous question, keep the facet, log the miss."""

    def __init__(self, service: KnowledgeService | None = None, inbox: UnansweredInbox | None = None) -> None:
        """Share the knowledge service; misses go to the desk's unanswered inbox."""
        self.service = service or shared_service()
        self.inbox = inbox or UnansweredInbox(self.service.catalogue.engine)

    def name(self) -> str:
        """Action name in the domain."""
        return "action_repair_procedure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Decide in the searches' pool (bounded, with a deadline), then reply."""
        text = str(tracker.latest_message.get("text") or "").strip()
        current, facet = tracker.get_slot("procedure_code"), tracker.get_slot("facet")
        try:
            if self.service.is_noise(text):
                reply, code = answers.ask_shorter(), current
            else:
                reply, code = await self.service.pool(text).run(lambda: self._decide(tracker, text))
        except Busy:
            reply, code = answers.busy(), current
        except Exception:
            logger.exception("action_repair_procedure failed")
            reply, code = answers.not_found(), current
        send_reply(dispatcher, reply)
        return [SlotSet("procedure_code", code), SlotSet("facet", facet)]

    def _decide(self, tracker: Tracker, text: str) -> tuple[Reply, str | None]:
        """The reply and the procedure now in focus."""
        rejected, facet = tracker.get_slot("procedure_code"), tracker.get_slot("facet")
        facet = facet if facet in answers.FACETS else None
        previous = previous_question(tracker)
        correction = correction_words(text)
        query = f"{correction} {previous}".strip()
        if not query:
            return answers.ask_which_procedure(), rejected
        if rejected or previous:
            self.inbox.log(f"{previous} → {text}".strip(" →"), channel_of(tracker), tracker.sender_id, rejected)
        hits = [h for h in self.service.search(query, top_k=TOP_K) if h.code != rejected]
        verdict = self.service.decide(hits)
        if verdict.kind == "answer" and correction:
            procedure = self.service.get(verdict.candidates[0].code)
            if procedure is not None:
                return answers.answer_procedure(procedure, facet), procedure.code
        candidates = hits[:4] if verdict.kind != "not_found" or not correction else []
        if len(candidates) >= 2:
            return answers.clarify([(h.code, h.title) for h in candidates], facet), rejected
        if candidates:
            procedure = self.service.get(candidates[0].code)
            if procedure is not None:
                return answers.answer_procedure(procedure, facet), procedure.code
        return answers.not_found(), rejected
