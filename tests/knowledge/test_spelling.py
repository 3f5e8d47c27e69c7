"""Typo repair and accent restoration against the catalogue's own vocabulary."""

from __future__ import annotations

import pytest

from knowledge.lexical import LexicalIndex, accented_terms
from knowledge.spelling import Speller, edits1

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
