"""Sibling titles: the one whose extra words the question does not use ranks below the plain one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from knowledge.distinctive import TitleWords
from knowledge.index import ProcedureIndex
from knowledge.schema import Procedure
from knowledge.search import ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import FakeEncoder

TITLES = [
    "Thủ tục đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân",
    "Thủ tục đăng ký khai sinh",
    "Thủ tục đăng ký khai sinh lưu động kết hợp nhận cha mẹ con",
    "Thủ tục đăng ký khai tử",
    # Unrelated titles, so that "cho", "con", "người" are as common as in the real catalogue.
    "Trợ cấp một lần cho con của người có công",
    "Cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi",
    "Hỗ trợ cho người mới ra tù hòa nhập cộng đồng",
    "Cấp bản sao trích lục hộ tịch cho cá nhân",
    "Đăng ký giám hộ cho người chưa thành niên",
    "Cấp giấy phép lái xe cho người nước ngoài",
]
LONG, PLAIN = "9.100000", "9.100001"
QUESTION = "Đăng ký khai sinh cho con mới sinh cần mang gì?"


@pytest.fixture(scope="module")
def siblings() -> ProcedureIndex:
    """Three birth-registration siblings, a death registration and unrelated titles."""
    procs = [Procedure(code=f"9.1000{i:02d}", title=t, levels=["Cấp xã"], applicants="Công dân Việt Nam")
             for i, t in enumerate(TITLES)]
    return ProcedureIndex.build(procs, FakeEncoder())


def _searcher(index: ProcedureIndex, weight: float | None = None) -> ProcedureSearcher:
    config = SearchConfig() if weight is None else replace(SearchConfig(), title_excess_weight=weight)
    return ProcedureSearcher.from_index(index, FakeEncoder(), config=config)


def test_title_words_drop_stopwords_and_words_of_every_title(siblings: ProcedureIndex) -> None:
    words = TitleWords(siblings)
    content = {w for w, j in words.vocab.items() if words.content[:, j].sum()}
    assert "thu" not in content and "tuc" not in content and "cho" not in content
    assert words.lengths[1] == 4  # đăng ký khai sinh
    assert words.content[1].sum() == 4


def test_the_plain_sibling_wins_when_the_qualifier_is_not_asked(siblings: ProcedureIndex) -> None:
    assert _searcher(siblings, 0.0).search(QUESTION)[0].code == LONG  # what the encoder and BM25 alone do
    assert _searcher(siblings).search(QUESTION)[0].code == PLAIN


@pytest.mark.parametrize("question", ["dang ky khai sinh cho be o dau", "đk khai sinh cho con"])
def test_unaccented_and_abbreviated_questions_keep_the_plain_sibling(siblings: ProcedureIndex, question: str) -> None:
    assert _searcher(siblings).search(question)[0].code == PLAIN


def test_a_qualifier_the_question_names_still_wins(siblings: ProcedureIndex) -> None:
    assert _searcher(siblings).search("đăng ký khai sinh cho người đã có giấy tờ cá nhân")[0].code == LONG


def test_the_push_grows_with_the_unasked_share_of_the_title(siblings: ProcedureIndex) -> None:
    pushed = _searcher(siblings, 0.0).score_all(QUESTION).fused - _searcher(siblings).score_all(QUESTION).fused
    assert np.isclose(pushed[1], 0.0) and pushed[1] < pushed[2] and pushed[1] < pushed[0]
