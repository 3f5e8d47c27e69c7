"""The keypad-first menu as pure decisions: keys, spoken names, the confirm turn, chunks, the SMS offer."""

from __future__ import annotations

from procedures import BIRTH, ID_CARD_AGAIN, PROCEDURES

from connectors.voice.catalogue import ProcedureMatcher, document_items, documents_message, spoken_summary
from connectors.voice.menu import (
    ASK_PROCEDURE,
    DOSSIER_QUESTION,
    MENU_TEXT,
    NOT_FOUND,
    Dialogue,
    sounds_like_yes_no,
    yes_no,
)
from connectors.voice.normalize import read_dossier_code

MATCHER = ProcedureMatcher(PROCEDURES)
SPOKEN_CODE = read_dossier_code("000.00.20.H57-240101-0001")


def dialogue(sms: bool = True) -> Dialogue:
    """A fresh call's menu over the test catalogue."""
    d = Dialogue(MATCHER, match_min=0.3, match_sure=0.7, per_chunk=3, sms=sms)
    assert d.greeting().say == [MENU_TEXT]
    return d


def test_matcher_finds_titles_aliases_and_ignores_retired() -> None:
    assert MATCHER.match("cho em hỏi làm lại căn cước thì cần những gì ạ")[0].code == ID_CARD_AGAIN.code
    assert MATCHER.match("mat cccd")[0].code == ID_CARD_AGAIN.code  # no diacritics, abbreviation alias
    assert MATCHER.match("dang ky khai sinh")[0].code == BIRTH.code
    assert all(m.code != "9.999999" for m in MATCHER.match("bãi bỏ khai sinh"))
    assert MATCHER.match("ừ thế à") == []
    assert "mất cccd" in MATCHER.phrases() and len(MATCHER) == 5


def test_menu_keys() -> None:
    d = dialogue()
    step = d.on_keys("1")
    assert step is not None and step.say == [ASK_PROCEDURE] and d.state == "procedure"
    d = dialogue()
    step = d.on_keys("2")
    assert step is not None and step.bot == DOSSIER_QUESTION and d.state == "bot"
    assert d.on_keys("6789") is None  # digits for the bot's form: not the menu's business
    step = d.on_keys("*")
    assert step is not None and step.say == [MENU_TEXT] and d.state == "menu"
    step = d.on_keys("0")
    assert step is not None and step.operator
    step = dialogue().on_keys("1001193")
    assert step is not None and step.say[0] == "Thủ tục đăng ký khai sinh."


def test_sure_match_answers_for_the_ear_then_offers_documents_and_sms() -> None:
    d = dialogue()
    step = d.on_speech("cho em hỏi làm lại căn cước")
    assert d.state == "answered" and d.confirmed == [ID_CARD_AGAIN.code]
    assert step.say[:3] == ["Thủ tục cấp lại thẻ căn cước.", "Nơi nộp: Công an cấp xã hoặc cấp tỉnh.",
                            "Lệ phí 70.000 đồng; thời gian giải quyết 7 ngày làm việc."]
    assert "Nhấn phím 1 để nghe giấy tờ cần chuẩn bị." in step.say[-1]
    assert "phím 9" in step.say[-1] and step.short_answer
    assert "phím 9" not in dialogue(sms=False).on_speech("làm lại căn cước").say[-1]


def test_weak_match_asks_first_then_answers_on_yes_or_moves_on_on_no() -> None:
    d = dialogue()
    step = d.on_speech("căn cước")  # renew or replace: not sure which
    assert d.state == "confirm" and step.short_answer
    first, second = d.candidates[0], d.candidates[1]
    assert {first.code, second.code} == {"1.014064", "1.014063"}
    assert step.say[0] == (f"Anh chị hỏi về {first.title[0].lower() + first.title[1:]}, đúng không? "
                           "Nhấn phím 1 nếu đúng, phím 2 nếu không đúng.")
    step = d.on_keys("1")
    assert step is not None and d.state == "answered" and d.confirmed == [first.code]
    d = dialogue()
    d.on_speech("căn cước")
    step = d.on_speech("không phải")
    assert d.state == "confirm" and second.title[1:] in step.say[0]
    d.on_speech("vâng ạ")
    assert d.confirmed == [second.code]
    d.on_keys("*")
    d.on_speech("căn cước")
    d.on_keys("2")
    d.on_keys("2")
    assert d.state == "procedure"  # both refused: asked to say the name again


def test_unknown_names_and_other_requests() -> None:
    d = dialogue()
    d.on_keys("1")
    assert d.on_speech("xin chào các bạn").say == [NOT_FOUND]
    d = dialogue()
    assert d.on_speech("thời tiết hôm nay thế nào").bot == "thời tiết hôm nay thế nào" and d.state == "bot"
    d = dialogue()
    assert d.on_speech("tôi muốn gặp nhân viên").operator
    step = dialogue().on_speech("tra cứu hồ sơ không không không chấm không hai")
    assert step.bot.startswith("tra cứu hồ sơ")


def test_documents_in_chunks_with_next_repeat_skip_and_sms() -> None:
    d = dialogue()
    d.on_speech("làm giấy khai sinh")
    assert d.state == "answered"
    first = d.on_keys("1")
    assert first is not None and first.say[0] == "Giấy tờ thứ 1, Tờ khai đăng ký khai sinh, 1 bản chính."
    assert len(first.say) == 4 and first.say[-1].startswith("Nhấn phím 1 để nghe tiếp, phím 2 để nghe lại.")
    again = d.on_keys("2")
    assert again is not None and again.say == first.say
    second = d.on_keys("3")
    assert second is not None and second.say[0].startswith("Giấy tờ thứ 4,")
    last = d.on_speech("nghe tiếp")
    assert last.say[0].startswith("Giấy tờ thứ 7,") and "Hết danh sách giấy tờ." in last.say[-1]
    sms = d.on_keys("9")
    assert sms is not None and sms.sms_code == BIRTH.code
    assert dialogue(sms=False).on_keys("9") is None


def test_texts_for_the_ear_and_the_message() -> None:
    assert spoken_summary(BIRTH)[2] == "Miễn lệ phí; thời gian giải quyết trong ngày."
    assert document_items(BIRTH)[4] == "Giấy chứng nhận kết hôn của cha mẹ, 1 bản sao."
    text = documents_message(BIRTH)
    assert text.startswith("Giấy tờ cho thủ tục Thủ tục đăng ký khai sinh (mã 1.001193):\n1. Tờ khai")
    assert "7. Giấy tờ chứng minh nơi cư trú" in text and text.endswith("\nChi tiết: https://dichvucong.gov.vn")


def test_yes_no() -> None:
    assert yes_no("Đúng rồi ạ") is True and yes_no("vâng") is True and yes_no("không") is False
    assert yes_no("cấp lại căn cước") is None


def test_n_best_alternatives_fill_what_the_call_expects() -> None:
    d = dialogue()
    d.on_speech("căn cước")
    first = d.candidates[0].code
    d.on_speech("hồn thái", ["hồn phái", "không phải"])  # the best reading is no answer; the third one is
    assert d.candidates[0].code != first and not d.confirmed  # "no": the next candidate is asked about
    step = dialogue().on_speech("tra cứu mã số không không không", ["tra cứu mã " + SPOKEN_CODE])
    assert step.bot == "tra cứu mã 000.00.20.H57-240101-0001"
    d = dialogue()
    d.on_speech("cho em hỏi làm lại căn cát", ["cho em hỏi làm lại căn cước"])  # re-scored on the catalogue
    assert d.confirmed == [ID_CARD_AGAIN.code] or d.candidates[0].code == ID_CARD_AGAIN.code
    d = dialogue()
    d.on_speech("đăng ký khai sinh", ["làm lại căn cước"])  # the best reading names one already: it wins
    assert d.confirmed == [BIRTH.code]


def test_misheard_yes_no_by_its_sounds_only_when_unambiguous() -> None:
    assert sounds_like_yes_no("Hồn thái.") is False and sounds_like_yes_no("hông phải ạ") is False
    assert sounds_like_yes_no("Bâng.") is True and sounds_like_yes_no("đúng rồi") is True
    assert sounds_like_yes_no("phải") is None  # "phải" and "sai" sound alike: ask again instead
    assert sounds_like_yes_no("cấp lại căn cước") is None and sounds_like_yes_no("một") is None
    d = dialogue()
    d.on_speech("căn cước")
    first = d.candidates[0].code
    d.on_speech("Hồn thái.")
    assert d.candidates[0].code != first and not d.confirmed
