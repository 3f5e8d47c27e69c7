"""Spoken forms both directions: recognised speech → NLU text, bot text → what the caller hears."""

from __future__ import annotations

import pytest

from connectors.voice.keypad import keypad_to_text
from connectors.voice.normalize import (
    button_choice,
    normalize_spoken,
    number_words,
    read_dossier_code,
    read_phone,
    render_for_speech,
    render_text,
)

CODE = "000.00.20.H57-240101-0001"


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("không không không chấm không không chấm hai không chấm hát năm bảy gạch ngang hai bốn không một không một "
         "gạch ngang không không không một", CODE),
        ("mã hồ sơ là không không không chấm không không chấm hai không chấm hát năm bảy gạch ngang hai bốn không "
         "một không một gạch ngang không không không một ạ", f"mã hồ sơ là {CODE} ạ"),
        ("Mã hồ sơ 000.00.20.H57 - 240101 - 0001", f"Mã hồ sơ {CODE}"),
        ("000 00 20 h57 240101 0001", CODE),
        ("0 0 0 0 0 2 0 H 5 7 2 4 0 1 0 1 0 0 0 1", CODE),
        ("không không không không không hai không giê năm bảy hai bốn không một không một không không không một",
         "000.00.20.G57-240101-0001"),
        ("000.00.20.H57–240101–0001", CODE),
        ("bốn số cuối là sáu bảy tám chín", "bốn số cuối là 6789"),
        ("Bốn số cuối là 6 7 8 9.", "Bốn số cuối là 6789."),
        ("số điện thoại không chín một hai ba bốn năm sáu bảy tám", "số điện thoại 0912345678"),
        ("tôi muốn làm giấy khai sinh", "tôi muốn làm giấy khai sinh"),
        ("hai ba ngày nữa", "hai ba ngày nữa"),
        ("năm nay tôi hỏi về lệ phí", "năm nay tôi hỏi về lệ phí"),
        ("", ""),
    ],
)
def test_speech_to_text(heard: str, expected: str) -> None:
    """Spoken codes and digit runs become their written forms; ordinary words stay."""
    assert normalize_spoken(heard) == expected


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"), (5, "năm"), (10, "mười"), (14, "mười bốn"), (15, "mười lăm"), (21, "hai mươi mốt"),
        (24, "hai mươi tư"), (55, "năm mươi lăm"), (105, "một trăm linh năm"), (1000, "một nghìn"),
        (2024, "hai nghìn không trăm hai mươi tư"), (8000, "tám nghìn"), (50000, "năm mươi nghìn"),
        (1500000, "một triệu năm trăm nghìn"), (1_000_000_000, "một tỷ"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    """Vietnamese number reading (mốt, tư, lăm, linh)."""
    assert number_words(n) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Lệ phí 50.000 đồng.", "Lệ phí năm mươi nghìn đồng."),
        ("Lệ phí 8.000đ", "Lệ phí tám nghìn đồng"),
        ("Phí 1,5 triệu", "Phí một phẩy năm triệu đồng"),
        ("Phí 100k", "Phí một trăm nghìn đồng"),
        ("Hẹn trả: 15/12/2024.", "Hẹn trả: ngày mười lăm tháng mười hai năm hai nghìn không trăm hai mươi tư."),
        ("Ngày 05/01/2025 nhé", "Ngày năm tháng một năm hai nghìn không trăm hai mươi lăm nhé"),
        ("Giờ làm việc 7h30–17h00", "Giờ làm việc bảy giờ ba mươi phút đến mười bảy giờ"),
        ("Gọi 1900 1234", "Gọi một chín không không, một hai ba bốn"),
        ("Gọi 0912345678", "Gọi không chín một hai, ba bốn năm, sáu bảy tám"),
        ("Gọi 0912.345.678", "Gọi không chín một hai, ba bốn năm, sáu bảy tám"),
        ("Thủ tục 1.001193", "Thủ tục một chấm không không một một chín ba"),
        ("Xem https://dichvucong.gov.vn/p/1 nhé 😊👍", "Xem nhé"),
        ("**Hồ sơ cần nộp:**\n- Tờ khai\n- CCCD", "Hồ sơ cần nộp:. Tờ khai. CCCD"),
        ("Anh/chị cần 4 số cuối", "Anh chị cần bốn số cuối"),
    ],
)
def test_text_to_speech(text: str, spoken: str) -> None:
    """Money, dates, times, phone numbers and codes are read naturally; URLs, emoji and markup vanish."""
    assert render_text(text) == spoken


def test_dossier_code_is_read_in_groups() -> None:
    """A code is read group by group with pauses, the agency letter by name."""
    assert read_dossier_code(CODE) == (
        "không không không, chấm, không không, chấm, hai không, chấm, hát năm bảy, gạch ngang, hai bốn, không một, "
        "không một, gạch ngang, không không không một"
    )
    assert render_text(f"Hồ sơ {CODE} đang xử lý").startswith("Hồ sơ mã không không không, chấm")
    assert "giê" in read_dossier_code("000.00.00.G12-240101-0002")


def test_round_trip_code_speech_and_back() -> None:
    """What the bot says for a code, recognised back digit by digit, gives the same code."""
    spoken = read_dossier_code(CODE).replace(",", "")
    assert normalize_spoken(spoken) == CODE


def test_phone_groups() -> None:
    """Mobile numbers 4-3-3, hotlines 4-4, international prefix spoken."""
    assert read_phone("+84912345678") == "cộng tám tư, chín một hai, ba bốn năm, sáu bảy tám"


def test_buttons_are_read_as_keys() -> None:
    """Buttons become 'Bấm phím …' sentences after the message."""
    assert render_for_speech("Anh/chị muốn biết gì?", ["Lệ phí", "Hồ sơ cần nộp"]) == (
        "Anh chị muốn biết gì? Bấm phím một để chọn Lệ phí. Bấm phím hai để chọn Hồ sơ cần nộp."
    )


@pytest.mark.parametrize(
    ("heard", "index"),
    [("phím hai", 1), ("Số 1.", 0), ("một", 0), ("chọn lệ phí", 0), ("Hồ sơ cần nộp", 1), ("phím chín", None),
     ("tôi muốn hỏi khác", None)],
)
def test_spoken_button_choice(heard: str, index: int | None) -> None:
    """Callers may say the key or the choice instead of pressing it."""
    assert button_choice(heard, ["Lệ phí", "Hồ sơ cần nộp"]) == index


@pytest.mark.parametrize(
    ("keys", "text"),
    [
        ("0000020572401010001", CODE),
        ("000*00*20*57*240101*0001", CODE),
        ("000*00*20*4*57*240101*0001", "000.00.20.G57-240101-0001"),
        ("000*00*20*44*57*240101*0001#", CODE),
        ("6789", "6789"),
        ("*6789#", "6789"),
        ("12*34", "1234"),
    ],
)
def test_keypad_input(keys: str, text: str) -> None:
    """Digits typed on the keypad become a dossier code or plain digits."""
    assert keypad_to_text(keys) == text
