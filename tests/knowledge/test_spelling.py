"""Typo repair and accent restoration against the catalogue's own vocabulary."""

from __future__ import annotations

import pytest

from knowledge.lexical import LexicalIndex, accented_terms
from knowledge.spelling import (
    Speller,
    edits1,
    keyboard_fold,
    typed_with_accents,
    well_formed,
    write_out_abbreviations,
)

TITLES = [
    "Đăng ký khai sinh",
    "Đăng ký khai tử",
    "Đăng ký kết hôn",
    "Cấp lại giấy phép lái xe",
    "Đổi giấy phép lái xe",
    "Cấp giấy phép xây dựng",
    "Cấp giấy chứng nhận quyền sử dụng đất",
    "Đăng ký thường trú",
    "Xóa đăng ký thường trú",
]


@pytest.fixture(scope="module")
def speller() -> Speller:
    docs = [{"title": t} for t in TITLES]
    return Speller(LexicalIndex.build(docs, {"title": 1.0}),
                   LexicalIndex.build(docs, {"title": 1.0}, analyzer=accented_terms))


def test_edits1_covers_deletion_swap_substitution_insertion() -> None:
    variants = edits1("sinh")
    assert {"sin", "isnh", "sinn", "sinhh"} <= variants
    assert "sinh" not in variants


def test_unknown_syllables_are_corrected_to_the_catalogue(speller: Speller) -> None:
    assert speller.correct(["dang", "ky", "khai", "sinhh"]) == ["dang", "ky", "khai", "sinh"]
    assert speller.correct(["giay", "phpe", "lai", "xe"]) == ["giay", "phep", "lai", "xe"]
    assert speller.correct(["thuongf", "tru"]) == ["thuong", "tru"]  # a Telex key left in the word


def test_known_short_and_stop_words_are_left_alone(speller: Speller) -> None:
    assert speller.correct(["khai", "tu"]) == ["khai", "tu"]
    assert speller.correction("ko") is None  # teencode, too short to correct
    assert speller.correction("xyzzyq") is None  # nothing one edit away
    assert speller.correction("123") is None


def test_accents_follow_the_catalogue_bigrams(speller: Speller) -> None:
    assert speller.restore_accents("dang ky khai sinh") == "đăng ký khai sinh"
    assert speller.restore_accents("doi giay phep lai xe") == "đổi giấy phép lái xe"
    # "lai" is "lại" after "cấp" but "lái" before "xe"
    assert speller.restore_accents("cap lai giay phep lai xe") == "cấp lại giấy phép lái xe"
    assert speller.restore_accents("xoa thuong tru") == "xóa thường trú"


def test_words_the_catalogue_lacks_stay_as_typed(speller: Speller) -> None:
    assert speller.restore_accents("toi muon dang ky ket hon") == "toi muon đăng ký kết hôn"
    assert speller.restore_accents("") == ""


def test_dense_text_takes_only_whole_expansions() -> None:
    from knowledge.search import whole_expansions

    parts = ["giấy chứng nhận quyền sử dụng đất", "đăng ký", "thường trú"]
    assert whole_expansions(parts, 1000) == "giấy chứng nhận quyền sử dụng đất; đăng ký; thường trú"
    assert whole_expansions(parts, 45) == "giấy chứng nhận quyền sử dụng đất; đăng ký"
    assert whole_expansions(parts, 10) == ""
    assert whole_expansions([], 80) == ""


def test_telex_and_vni_keys_left_in_a_word_are_dropped(speller: Speller) -> None:
    assert speller.correct(["giaasy", "phepf"]) == ["giay", "phep"]
    assert speller.correct(["d9ang", "ky1"]) == ["dang", "ky"]
    assert keyboard_fold("dduwowngf") == "duong"


def test_two_syllables_typed_as_one_are_split(speller: Speller) -> None:
    assert " ".join(speller.correct(["dang", "ky", "khaisinh"])) == "dang ky khai sinh"


def test_a_typo_is_repaired_into_the_word_its_neighbours_confirm() -> None:
    docs = [{"title": t} for t in [*TITLES, "Cung cấp thông tin", "Sửa thông tin", "Xóa thông tin"]]
    speller = Speller(LexicalIndex.build(docs, {"title": 1.0}),
                      LexicalIndex.build(docs, {"title": 1.0}, analyzer=accented_terms))
    # "tin" is the more frequent syllable one edit away, but only "hôn" follows "kết".
    assert speller.correct(["dang", "ky", "ket", "hin"]) == ["dang", "ky", "ket", "hon"]


def test_a_well_formed_syllable_is_a_word_not_a_typo(speller: Speller) -> None:
    assert well_formed("ghe") and well_formed("nguyen") and not well_formed("sihn")
    assert speller.correction("kha") is None  # "khá": a word the catalogue lacks, not "khai"
    assert speller.correct(["kha", "sinh"]) == ["khai", "sinh"]  # unless "khai sinh" says so


def test_citizen_phrases_are_words_and_give_accents() -> None:
    docs = [{"title": t} for t in TITLES]
    speller = Speller(LexicalIndex.build(docs, {"title": 1.0}),
                      LexicalIndex.build(docs, {"title": 1.0}, analyzer=accented_terms),
                      phrases=["visa", "chồng tôi"])
    assert speller.correction("visa") is None
    assert speller.restore_accents("chong toi dang ky ket hon") == "chồng tôi đăng ký kết hôn"


def test_abbreviations_are_written_out() -> None:
    assert write_out_abbreviations("dk khai sinh cho be dc ko") == "dang ky khai sinh cho be duoc khong"
    assert write_out_abbreviations("đk kết hôn, mất CCCD") == "đăng ký kết hôn, mất căn cước công dân"
    assert write_out_abbreviations("xin gplx") == "xin giay phep lai xe"


@pytest.mark.parametrize(("typed", "written"), [
    ("xin llttp so 1", "xin ly lich tu phap so 1"),
    ("lam gpkd ho ca the", "lam giay phep kinh doanh ho ca the"),
    ("vk ck đkkh ở đâu", "vợ chồng đăng ký kết hôn ở đâu"),
    ("ck toi mat roi", "chong toi mat roi"),
    ("mat giay ks cua con", "mat giay khai sinh cua con"),
    ("đóng bhxh tn", "đóng bảo hiểm xã hội tự nguyện"),
    ("lên CA phường làm căn cước", "lên công an phường làm căn cước"),
    ("nộp giấy bs cho công ty", "nộp giấy bác sĩ cho công ty"),
    ("mst ca nhan", "ma so thue ca nhan"),
    ("khai báo với CA ko", "khai báo với công an không"),
    ("e lay ck han, dk kh o dau", "e lay chong han, dang ky ket hon o dau"),
    ("lm ks cho bé", "làm khai sinh cho bé"),
])
def test_citizen_abbreviations_of_session_7_are_written_out(typed: str, written: str) -> None:
    assert write_out_abbreviations(typed) == written


@pytest.mark.parametrize("typed", [
    "nop phi ck duoc khong",  # ck alone is also chuyển khoản
    "ho so can bs gi",  # bs alone is also bổ sung
    "dt dat bao nhieu",  # dt alone is also diện tích, đầu tư
    "ca lam viec cua cong an",  # ca alone is also a shift (only "CA" in capitals is công an)
    "Ca sĩ đi diễn ở nước ngoài",
    "dat ks cho khach",  # ks alone is also khách sạn
    "thanh nien tn",
])
def test_ambiguous_abbreviations_are_left_alone(typed: str) -> None:
    assert write_out_abbreviations(typed) == typed


def test_a_well_formed_word_typed_with_accents_is_meant_as_typed(speller: Speller) -> None:
    assert typed_with_accents("Khá sinh, giay") == [True, False, False]
    assert speller.correct(["kha", "sinh"], typed_with_accents("khá sinh")) == ["kha", "sinh"]
    assert speller.correct(["kha", "sinh"], typed_with_accents("kha sinh")) == ["khai", "sinh"]


def test_an_abbreviation_is_not_repaired_into_another() -> None:
    docs = [{"title": t} for t in [*TITLES, "Cấp chứng chỉ CNTT", "Ứng dụng CNTT"]]
    speller = Speller(LexicalIndex.build(docs, {"title": 1.0}),
                      LexicalIndex.build(docs, {"title": 1.0}, analyzer=accented_terms))
    # "antt" (an ninh trật tự) is one letter from the catalogue's "cntt" (công nghệ thông tin).
    assert speller.correct(["to", "bv", "antt"]) == ["to", "bv", "antt"]
    assert speller.correct(["ket", "hin"]) == ["ket", "hon"]


def test_unaccented_example_questions_teach_no_bare_forms() -> None:
    from knowledge.index import ProcedureIndex
    from knowledge.schema import Procedure
    from tests.knowledge.search_fixtures import FakeEncoder

    curated = Procedure(code="9.100001", title="Đăng ký khai sinh", levels=["Cấp xã"],
                        aliases=["muon lam giay khai sinh cho con"],
                        questions=["muon lam giay khai sinh thi can gi", "tôi muốn làm giấy khai sinh cho con"])
    index = ProcedureIndex.build([curated, Procedure(code="9.100002", title="Đăng ký kết hôn")], FakeEncoder())
    assert "muon" in index.lexical.vocab  # folded search still reads the citizen's words
    assert "muon" not in index.accented.vocab and "muốn" in index.accented.vocab
    speller = Speller(index.lexical, index.accented)
    assert speller.restore_accents("muon lam giay khai sinh") == "muốn làm giấy khai sinh"


@pytest.mark.parametrize(("typed", "written"), [
    ("mất sđ rồi", "mất sổ đỏ rồi"),
    ("hộ gđ nghèo", "hộ gia đình nghèo"),
    ("nộp hs ở đâu", "nộp hồ sơ ở đâu"),
    ("mún mở hộ kd", "muốn mở hộ kinh doanh"),
    ("mua oto cũ sang tên", "mua ô tô cũ sang tên"),
    ("xin giấy attp", "xin giấy an toàn thực phẩm"),
    ("quên mật khẩu tk vneid", "quên mật khẩu tài khoản VNeID"),
    ("lên ub xã hỏi", "lên ủy ban xã hỏi"),
    ("bnhiu tgian vậy", "bao nhiêu thời gian vậy"),
])
def test_session_9_chat_shorthand_is_written_out(typed: str, written: str) -> None:
    assert write_out_abbreviations(typed) == written


@pytest.mark.parametrize("typed", ["hs lớp 12 xin học bổng", "gđ công ty ký", "bv bảo vệ", "tk tham khảo"])
def test_ambiguous_shorthand_alone_is_left_alone(typed: str) -> None:
    assert write_out_abbreviations(typed) == typed
