"""SMS text units: GSM-7 folding and counting, part splitting with XEM THEM, numbered options, short forms."""

from __future__ import annotations

import json

import pytest

from common.messages import BotMessage, Button
from connectors.channels.sms_text import (
    GSM7_BASIC,
    GSM7_EXT,
    Encoding,
    Inbound,
    gsm7_len,
    merge,
    numbered,
    parse_inbound,
    split_parts,
    to_gsm7,
)

CODE = "000.00.20.H57-240101-0001"


def test_gsm7_folds_vietnamese_and_replaces_the_rest() -> None:
    assert to_gsm7("Hồ sơ đã có kết quả – “xem” ngay…") == 'Ho so da co ket qua - "xem" ngay...'
    assert to_gsm7("ĐẶNG Thị Ưng 😀 chữ 漢") == "DANG Thi Ung chu ?"
    assert to_gsm7("👍 Có") == "Co"
    assert all(c in GSM7_BASIC or c in GSM7_EXT for c in to_gsm7("Ôi! Giấy tờ {bản sao} ~ €5 ✓"))


def test_gsm7_length_counts_extension_characters_twice() -> None:
    assert gsm7_len("abc") == 3 and gsm7_len("[x]") == 5 and gsm7_len("€") == 2


def test_ucs2_keeps_diacritics_and_counts_70_a_part() -> None:
    enc = Encoding(ucs2=True)
    assert enc.convert("Hồ sơ đã có kết quả") == "Hồ sơ đã có kết quả" and enc.limit == 70
    parts, rest = split_parts(enc.convert("Câu một có dấu tiếng Việt. " * 9), enc, 3)
    assert len(parts) == 3 and all(enc.measure(p) <= 70 for p in parts) and rest


def test_split_at_sentence_boundaries_with_a_more_hint() -> None:
    enc = Encoding()
    text = " ".join(f"Cau so {i} noi ve thu tuc hanh chinh can giay to gi." for i in range(12))
    parts, rest = split_parts(text, enc, 2)
    assert len(parts) == 2 and all(gsm7_len(p) <= 160 for p in parts)
    assert parts[0].endswith(".") and parts[1].endswith("(Nhan XEM THEM de doc tiep)")
    assert parts[1].removesuffix(" (Nhan XEM THEM de doc tiep)").endswith(".")
    assert rest.startswith("Cau so") and " ".join([parts[0], parts[1].split(" (Nhan")[0], rest]) == text


def test_short_text_is_one_part_without_hint() -> None:
    assert split_parts("Da, em chao anh/chi.", Encoding(), 2) == (["Da, em chao anh/chi."], "")


def test_one_part_limit_still_marks_held_back_text() -> None:
    parts, rest = split_parts("Mot cau dai. " * 30, Encoding(), 1)
    assert len(parts) == 1 and "XEM THEM" in parts[0] and gsm7_len(parts[0]) <= 160 and rest


def test_buttons_become_numbered_options() -> None:
    buttons = (Button("Tra cứu lại", "/check_status"), Button("Gặp tổng đài viên", "/h"))
    msg = BotMessage("Anh/chị muốn làm gì?", buttons)
    assert numbered(msg) == "Anh/chị muốn làm gì?\n1. Tra cứu lại\n2. Gặp tổng đài viên\nTra loi 1 hoac 2"
    three = BotMessage("", (Button("a", "1"), Button("b", "2"), Button("c", "3")))
    assert numbered(three).endswith("Tra loi 1, 2 hoac 3")


def test_merge_numbers_every_button_of_the_turn() -> None:
    merged = merge([BotMessage("Một.", (Button("a", "/a"),)), BotMessage("Hai.", (Button("x", "/x"),))])
    assert merged.text == "Một.\nHai." and merged.buttons == (Button("a", "/a"), Button("x", "/x"))
    assert len(merge([BotMessage("t", tuple(Button(str(i), str(i)) for i in range(12)))]).buttons) == 9


@pytest.mark.parametrize("text", [f"HS {CODE}", f"hs {CODE.lower()}", "Hs: 000 00 20 h57 240101 0001", f"hS  {CODE}"])
def test_hs_becomes_the_check_status_payload_with_the_code(text: str) -> None:
    inbound = parse_inbound(text)
    assert inbound.kind == "payload" and inbound.code == CODE
    assert inbound.value == "/check_status" + json.dumps({"dossier_code": CODE})


def test_hs_without_a_valid_code_starts_the_lookup() -> None:
    assert parse_inbound("HS 12345") == Inbound("payload", "/check_status")


@pytest.mark.parametrize("text", ["HUY", "huy", "Hủy", "HỦY", " huỷ "])
def test_huy_unsubscribes(text: str) -> None:
    assert parse_inbound(text) == Inbound("payload", "/unsubscribe_status")


def test_tt_passes_the_question_keeping_diacritics() -> None:
    assert parse_inbound("TT lệ phí cấp đổi CCCD") == Inbound("text", "lệ phí cấp đổi CCCD")
    assert parse_inbound("tt: lam giay khai sinh") == Inbound("text", "lam giay khai sinh")


def test_more_options_and_free_text() -> None:
    assert parse_inbound("xem thêm").kind == "more" and parse_inbound("XEM THEM").kind == "more"
    assert parse_inbound(" 2 ") == Inbound("option", "2")
    assert parse_inbound("6789") == Inbound("text", "6789")  # the 4 digits are not an option number
    assert parse_inbound("huyen nao lam ho chieu") == Inbound("text", "huyen nao lam ho chieu")
    assert parse_inbound("TTHC la gi") == Inbound("text", "TTHC la gi")
