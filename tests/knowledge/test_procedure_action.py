"""action_answer_procedure over recorded trackers, with the keyword fallback searcher."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.procedures import ActionAnswerProcedure
from desk.privacy import hash_sender
from knowledge.answers import MAX_MESSAGE_CHARS, payload
from knowledge.schema import Channel, Document, LegalBasis, Procedure
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue

URL = "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/test"


def catalogue_items() -> list[Procedure]:
    free_day = [Channel(name=n, time_text="1 ngày làm việc", working_days=1, fee_text="Miễn phí", fee_vnd=0,
                        free=True) for n in ("Trực tiếp", "Trực tuyến")]
    return [
        Procedure(
            code="1.001193", title="Đăng ký khai sinh", field="Hộ tịch", levels=["Cấp xã"],
            agencies=["Ủy ban nhân dân cấp xã"], steps=["Nộp tờ khai", "Nhận giấy khai sinh"],
            channels=free_day, source_url=URL,
            documents=[Document(name="Tờ khai đăng ký khai sinh", original=1, quantity_text="1 bản chính"),
                       Document(name="Giấy chứng sinh", original=1, quantity_text="1 bản chính")],
            legal_basis=[LegalBasis(title="Luật Hộ tịch", number="60/2014/QH13")],
            result="Giấy khai sinh", aliases=["làm giấy khai sinh", "khai sinh cho con"],
        ),
        Procedure(
            code="1.004194", title="Đăng ký tạm trú", field="Cư trú", source_url=URL + "2",
            channels=[Channel(name="Trực tiếp", time_text="3 ngày làm việc", working_days=3,
                              fee_text="15.000 đồng", fee_vnd=15000)],
            where_to_submit="Công an cấp xã nơi dự kiến tạm trú",
        ),
        Procedure(code="2.000001", title="Cấp giấy phép xây dựng nhà ở riêng lẻ", source_url=URL + "3"),
        Procedure(code="2.000002", title="Cấp giấy phép xây dựng công trình", source_url=URL + "4"),
    ]


@pytest.fixture
def service(catalogue: Catalogue) -> KnowledgeService:
    catalogue.upsert_many(catalogue_items())
    return KnowledgeService(catalogue)


@pytest.fixture
def action(service: KnowledgeService) -> ActionAnswerProcedure:
    return ActionAnswerProcedure(service)


def tracker(text: str, slots: dict[str, Any] | None = None, entities: list[dict[str, Any]] | None = None,
            sender: str = "tg:1001", channel: str = "telegram") -> Tracker:
    message = {"text": text, "intent": {"name": "ask_procedure"}, "entities": entities or [],
               "metadata": {"channel": channel}}
    return Tracker.from_dict({
        "sender_id": sender, "slots": slots or {}, "latest_message": message,
        "events": [{"event": "user", "text": text, "parse_data": message}], "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


def run(action: ActionAnswerProcedure, t: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return dispatcher.messages, slots


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


def test_facet_question_answers_that_facet_and_cites(action: ActionAnswerProcedure) -> None:
    messages, slots = run(action, tracker("làm giấy khai sinh cần giấy tờ gì"))
    text = text_of(messages)
    assert "Giấy chứng sinh" in text and "Tờ khai đăng ký khai sinh (1 bản chính)" in text
    assert "1.001193" in text and URL in text and "Lệ phí" not in text.split("📌")[0]
    assert slots == {"procedure_code": "1.001193", "facet": "documents"}
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert payload("1.001193", "fee") in payloads


def test_follow_ups_keep_the_procedure(action: ActionAnswerProcedure) -> None:
    slots = {"procedure_code": "1.001193"}
    fee, s1 = run(action, tracker("còn lệ phí thì sao?", slots))
    assert "Miễn phí" in text_of(fee) and s1 == {"procedure_code": "1.001193", "facet": "fee"}
    time, _ = run(action, tracker("mất bao lâu", slots))
    assert "1 ngày làm việc" in text_of(time)
    place, _ = run(action, tracker("nộp ở đâu ạ", slots))
    assert "Ủy ban nhân dân cấp xã" in text_of(place) and "1.001193" in text_of(place)


def test_follow_up_naming_another_procedure_searches_again(action: ActionAnswerProcedure) -> None:
    messages, slots = run(action, tracker("còn đăng ký tạm trú thì lệ phí bao nhiêu", {"procedure_code": "1.001193"}))
    assert slots["procedure_code"] == "1.004194" and "15.000 đồng" in text_of(messages)


def test_button_payload_entities_answer_directly(action: ActionAnswerProcedure) -> None:
    entities = [{"entity": "procedure_code", "value": "1.001193"}, {"entity": "facet", "value": "legal"}]
    messages, slots = run(action, tracker('/ask_procedure{"procedure_code":"1.001193","facet":"legal"}',
                                          entities=entities))
    assert "60/2014/QH13" in text_of(messages) and slots["facet"] == "legal"


def test_summary_without_facet_offers_facet_buttons(action: ActionAnswerProcedure) -> None:
    messages, slots = run(action, tracker("đăng ký tạm trú"))
    text = text_of(messages)
    assert "Đăng ký tạm trú" in text and "3 ngày làm việc" in text and "15.000 đồng" in text
    assert "Công an cấp xã" in text and slots["facet"] is None
    titles = [b["title"] for b in messages[-1]["buttons"]]
    assert "Giấy tờ cần chuẩn bị" in titles and len(titles) <= 5


def test_close_candidates_ask_which_one(action: ActionAnswerProcedure) -> None:
    messages, slots = run(action, tracker("xin giấy phép xây dựng"))
    buttons = messages[-1]["buttons"]
    assert {b["payload"] for b in buttons} == {payload("2.000001"), payload("2.000002")}
    assert slots["procedure_code"] is None
    body = json.loads(buttons[0]["payload"].removeprefix("/ask_procedure"))
    assert set(body) == {"procedure_code", "facet"}


def test_low_confidence_is_logged_as_unanswered(action: ActionAnswerProcedure, service: KnowledgeService) -> None:
    messages, _slots = run(action, tracker("đăng ký nuôi rồng ở sao hỏa", sender="zalo:77", channel="zalo"))
    assert "chưa tìm thấy" in text_of(messages)
    assert any(b["payload"] == "/request_human" for b in messages[-1]["buttons"])
    (logged,) = action.inbox.questions()
    assert logged.text == "đăng ký nuôi rồng ở sao hỏa" and logged.channel == "zalo"
    assert logged.sender_hash == hash_sender("zalo:77")


def test_bare_menu_button_asks_what_procedure(action: ActionAnswerProcedure, service: KnowledgeService) -> None:
    messages, _ = run(action, tracker("/ask_procedure"))
    assert "thủ tục nào" in messages[0]["text"] and messages[0]["text"].count("•") >= 2
    assert action.inbox.questions() == []


def test_catalogue_edits_show_at_once(action: ActionAnswerProcedure, service: KnowledgeService) -> None:
    edited = service.catalogue.get("1.004194")
    assert edited is not None
    edited.channels[0].fee_text, edited.channels[0].fee_vnd = "20.000 đồng", 20000
    service.catalogue.upsert(edited, source="admin")
    messages, _ = run(action, tracker("lệ phí", {"procedure_code": "1.004194"}))
    assert "20.000 đồng" in text_of(messages)
    service.catalogue.retire("1.004194")
    messages, _slots = run(action, tracker("đăng ký tạm trú"))
    assert "1.004194" not in text_of(messages)


def test_long_answers_are_split_at_lines(action: ActionAnswerProcedure, service: KnowledgeService) -> None:
    big = service.catalogue.get("1.001193")
    assert big is not None
    big.documents = [Document(name=f"Giấy tờ số {i} " + "rất dài " * 35, original=1) for i in range(15)]
    service.catalogue.upsert(big)
    messages, _ = run(action, tracker("giấy tờ cần chuẩn bị", {"procedure_code": "1.001193"}))
    assert len(messages) > 1 and all(len(m["text"]) <= MAX_MESSAGE_CHARS for m in messages)
    assert messages[-1]["buttons"] and not messages[0]["buttons"]
    assert "1.001193" in messages[-1]["text"]


def test_search_errors_do_not_reach_the_user(catalogue: Catalogue) -> None:
    class Broken:
        def search(self, query: str, top_k: int = 5) -> list[Any]:
            raise RuntimeError("index missing")

    catalogue.upsert_many(catalogue_items())
    action = ActionAnswerProcedure(KnowledgeService(catalogue, Broken()))
    _messages, slots = run(action, tracker("đăng ký tạm trú"))
    assert slots["procedure_code"] == "1.004194"  # fell back to keyword search


def test_semantic_searcher_hits_are_filtered_and_thresholds_used(catalogue: Catalogue) -> None:
    from knowledge.search import Hit

    class Fake:
        min_score = 0.4
        clarify_margin = 0.1

        def search(self, query: str, top_k: int = 5) -> list[Hit]:
            return [Hit("1.004194", "old title", 0.9), Hit("1.001193", "Đăng ký khai sinh", 0.85),
                    Hit("9.999999", "deleted", 0.8)]

    catalogue.upsert_many(catalogue_items())
    service = KnowledgeService(catalogue, Fake())
    assert service.semantic and service.min_score == 0.4 and service.clarify_margin == 0.1
    hits = service.search("anything")
    assert [h.code for h in hits] == ["1.004194", "1.001193"] and hits[0].title == "Đăng ký tạm trú"
    catalogue.retire("1.004194")
    _messages, slots = run(ActionAnswerProcedure(service), tracker("câu hỏi bất kỳ"))
    assert slots["procedure_code"] == "1.001193"
