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
