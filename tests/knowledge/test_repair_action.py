"""action_repair_procedure: re-search with the correction and the previous question, keep the facet, log."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.repair import ActionRepairProcedure, correction_words
from desk.unanswered import UnansweredInbox
from knowledge.schema import Channel, Procedure
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue

URL = "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/test"


def items() -> list[Procedure]:
    fee = [Channel(name="Trực tiếp", time_text="10 ngày", working_days=10, fee_text="75.000 đồng", fee_vnd=75000)]
    return [
        Procedure(code="3.000347", title="Đổi giấy phép lái xe mô tô", channels=fee, source_url=URL),
        Procedure(code="3.000360", title="Đổi giấy phép lái xe ô tô", channels=fee, source_url=URL + "2"),
        Procedure(code="1.001193", title="Đăng ký khai sinh", source_url=URL + "3"),
    ]


def tracker(history: list[tuple[str, str]], text: str, intent: str, slots: dict[str, Any]) -> Tracker:
    events = [{"event": "user", "text": t, "parse_data": {"text": t, "intent": {"name": i}}} for t, i in history]
    message = {"text": text, "intent": {"name": intent}, "entities": [], "metadata": {"channel": "zalo"}}
    events.append({"event": "user", "text": text, "parse_data": message})
    return Tracker.from_dict({
        "sender_id": "zalo:42", "slots": slots, "latest_message": message, "events": events, "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


@pytest.fixture
def service(catalogue: Catalogue) -> KnowledgeService:
    catalogue.upsert_many(items())
    return KnowledgeService(catalogue)


def run(action: ActionRepairProcedure, t: Tracker) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return "\n".join(m["text"] for m in dispatcher.messages), slots, dispatcher.messages


def test_correction_words_drop_the_repair_itself() -> None:
    assert correction_words("ý tôi là bằng ô tô") == "bang o to"
    assert correction_words("Không phải!") == ""
    assert correction_words("cái kia") == ""
    assert correction_words("sai rồi, tôi hỏi về đăng ký khai sinh") == "dang ky khai sinh"


def test_named_correction_answers_the_right_procedure_keeping_the_facet(service: KnowledgeService) -> None:
    inbox = UnansweredInbox(service.catalogue.engine)
    action = ActionRepairProcedure(service, inbox)
    t = tracker([("lệ phí đổi bằng lái xe", "ask_procedure")], "ý tôi là bằng ô tô", "correct_procedure",
                {"procedure_code": "3.000347", "facet": "fee"})
    text, slots, _ = run(action, t)
    assert slots == {"procedure_code": "3.000360", "facet": "fee"}
    assert "3.000360" in text and "75.000" in text  # the fee, as asked the first time
    logged = inbox.questions()
    assert len(logged) == 1 and logged[0].best_code == "3.000347" and "ô tô" in logged[0].text


def test_bare_no_offers_other_procedures_not_the_rejected_one(service: KnowledgeService) -> None:
    action = ActionRepairProcedure(service, UnansweredInbox(service.catalogue.engine))
    t = tracker([("đổi giấy phép lái xe", "ask_procedure")], "không", "deny", {"procedure_code": "3.000347"})
    text, slots, messages = run(action, t)
    assert slots["procedure_code"] != "3.000347"
    assert "3.000347" not in "".join(b["payload"] for m in messages for b in m.get("buttons", []))
    assert "3.000360" in text or any("3.000360" in b["payload"] for m in messages for b in m.get("buttons", []))


def test_repair_without_any_question_asks_which_procedure(service: KnowledgeService) -> None:
    action = ActionRepairProcedure(service, UnansweredInbox(service.catalogue.engine))
    text, slots, _ = run(action, tracker([], "cái kia", "correct_procedure", {}))
    assert slots["procedure_code"] is None and text
