"""Pure answer helpers: facet detection, follow-ups, message splitting, honest gaps."""

from __future__ import annotations

import pytest

from knowledge.answers import (
    answer_procedure,
    detect_facet,
    is_follow_up,
    payload,
    split_message,
)
from knowledge.schema import Procedure


@pytest.mark.parametrize(
    ("text", "facet"),
    [
        ("lam giay khai sinh can gi", "documents"),
        ("Làm giấy khai sinh cần những giấy tờ gì?", "documents"),
        ("còn lệ phí thì sao?", "fee"),
        ("het bao nhieu tien vay", "fee"),
        ("mất bao lâu", "time"),
        ("bao lâu thì có kết quả", "time"),
        ("nộp ở đâu", "place"),
        ("nop online duoc khong", "online"),
        ("có nộp trực tuyến được không", "online"),
        ("các bước làm như thế nào", "steps"),
        ("điều kiện để được cấp", "conditions"),
        ("căn cứ pháp lý là gì", "legal"),
        ("đăng ký tạm trú", None),
        ("", None),
    ],
)
def test_detect_facet(text: str, facet: str | None) -> None:
    assert detect_facet(text) == facet


def test_follow_up_detection() -> None:
    assert is_follow_up("còn lệ phí thì sao?")
    assert is_follow_up("nộp ở đâu ạ")
    assert is_follow_up("mat bao lau")
    assert not is_follow_up("còn đăng ký tạm trú thì sao")
    assert not is_follow_up("lệ phí cấp hộ chiếu")


def test_split_message_respects_limit_and_lines() -> None:
    text = "\n".join(f"dòng {i} " + "x" * 90 for i in range(40))
    parts = split_message(text, limit=500)
    assert all(len(p) <= 500 for p in parts) and "\n".join(parts) == text
    long_line = "từ " * 1000
    assert all(len(p) <= 500 for p in split_message(long_line, limit=500))


def test_missing_facts_are_not_invented() -> None:
    bare = Procedure(code="9.1", title="Thủ tục mẫu", source_url="https://dichvucong.gov.vn/x")
    for facet in ("fee", "time", "documents", "legal", "steps", "result"):
        reply = answer_procedure(bare, facet)
        text = "\n".join(reply.texts)
        assert "chưa có thông tin" in text and "9.1" in text and "https://dichvucong.gov.vn/x" in text


def test_payload_format() -> None:
    assert payload("1.001193", "fee") == '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}'
    assert payload("1.001193") == '/ask_procedure{"procedure_code":"1.001193","facet":""}'


def test_first_reply_is_the_essentials_with_lists_behind_buttons() -> None:
    from knowledge.answers import answer_procedure
    from knowledge.schema import Channel, Document, Procedure

    p = Procedure(code="9.000009", title="Cấp giấy phép thử", field="Thử",
                  channels=[Channel(name="Trực tiếp", time_text="5 ngày làm việc", fee_text="50.000 đồng"),
                            Channel(name="Bưu chính", time_text="7 ngày làm việc", fee_text="50.000 đồng")],
                  documents=[Document(name=f"Giấy tờ {i}") for i in range(12)], steps=["Nộp", "Nhận"],
                  where_to_submit="Ủy ban nhân dân cấp xã")
    reply = answer_procedure(p, None)
    text = "\n".join(reply.texts)
    assert len(reply.texts) == 1 and len(text.splitlines()) <= 9
    assert "Nộp trực tuyến: chưa (nộp trực tiếp, bưu chính)" in text and "Giấy tờ 3" not in text
    assert {"Giấy tờ cần chuẩn bị", "Các bước thực hiện"} <= {b.title for b in reply.buttons}
