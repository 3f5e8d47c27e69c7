"""What the dense encoder reads (courtesy stripped, word budget), the query-vector cache, and top_k=1 confidence."""

from __future__ import annotations

import numpy as np
import pytest

from common.text import fold_diacritics
from knowledge.index import ProcedureIndex
from knowledge.query_text import QueryVectorCache, cut_words, dense_text, strip_courtesy
from knowledge.schema import Procedure
from knowledge.search import ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import FakeEncoder, RecordingEncoder


def test_courtesy_phrases_are_stripped_around_the_question() -> None:
    assert strip_courtesy("Cho em hỏi, đăng ký khai sinh ở đâu ạ?") == "đăng ký khai sinh ở đâu"
    assert strip_courtesy("ad ơi làm hộ chiếu mất bao lâu với ạ") == "làm hộ chiếu mất bao lâu"
    assert strip_courtesy("cho em hoi dang ky ket hon o dau voi a") == "dang ky ket hon o dau"
    # Folded, a final "a" may be the class of a licence, not "ạ".
    assert strip_courtesy("doi bang lai hang a") == "doi bang lai hang a"
    assert strip_courtesy("xin giay phep xay nha") == "xin giay phep xay nha"  # "nhà", not "nha"
    assert strip_courtesy("xin giấy phép xây nhà nha") == "xin giấy phép xây nhà"
    # Words inside the question stay, and a question of courtesy only is kept whole.
    assert strip_courtesy("đăng ký cho em bé") == "đăng ký cho em bé"
    assert strip_courtesy("dạ ạ") == "dạ ạ"


def test_dense_text_keeps_the_question_first_within_the_word_budget() -> None:
    assert cut_words("một hai ba, bốn năm", 3) == "một hai ba"
    assert dense_text("đăng ký thường trú", ["thường trú", "hộ khẩu cũ"], budget=6) == "đăng ký thường trú (thường trú)"
    both = dense_text("đăng ký thường trú", ["thường trú", "hộ khẩu"], budget=8)
    assert both == "đăng ký thường trú (thường trú; hộ khẩu)"
    assert dense_text("đăng ký thường trú", ["thường trú"], budget=4) == "đăng ký thường trú"
    assert dense_text("một hai ba bốn năm sáu", ["thường trú"], budget=4) == "một hai ba bốn"
    assert dense_text("khai sinh", ["a b c d e f g h i"], budget=100, max_chars=10) == "khai sinh"


def test_query_vector_cache_drops_the_least_recently_used() -> None:
    calls: list[str] = []

    def encode(text: str) -> np.ndarray:
        calls.append(text)
        return np.full(2, len(calls), np.float32)

    cache = QueryVectorCache(size=2)
    cache.get("a", encode)
    cache.get("b", encode)
    cache.get("a", encode)  # hit: "b" is now the oldest
    cache.get("c", encode)
    cache.get("a", encode)
    cache.get("b", encode)
    assert calls == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_fold_diacritics_by_table_matches_per_character_folding() -> None:
    text = "Đăng ký khai sinh ở nước ngoài ĐỒNG ý ñ ά ǜ ① ﬁ"
    assert fold_diacritics(text) == "Dang ky khai sinh o nuoc ngoai DONG y n α u ① ﬁ"
    assert len(fold_diacritics(text)) == len(text)


@pytest.fixture(scope="module")
def index() -> ProcedureIndex:
    """Five procedures; two of them share a title, so neither leads the other by much."""
    procs = [
        Procedure(code="9.1", title="Đăng ký khai sinh", levels=["Cấp xã"], applicants="Công dân Việt Nam"),
        Procedure(code="9.2", title="Đăng ký khai sinh lưu động", levels=["Cấp xã"], applicants="Công dân Việt Nam"),
        Procedure(code="9.3", title="Đăng ký kết hôn", levels=["Cấp xã"], applicants="Công dân Việt Nam"),
        Procedure(code="9.4", title="Đăng ký khai tử", levels=["Cấp xã"], applicants="Công dân Việt Nam"),
        Procedure(code="9.5", title="Đăng ký khai tử", levels=["Cấp huyện"], applicants="Công dân Việt Nam"),
    ]
    return ProcedureIndex.build(procs, FakeEncoder())


def test_a_repeated_question_is_encoded_once(index: ProcedureIndex) -> None:
    encoder = RecordingEncoder()
    searcher = ProcedureSearcher.from_index(index, encoder, config=SearchConfig())
    first = searcher.search("cho em hỏi đăng ký kết hôn ạ")
    again = searcher.search("cho em hỏi đăng ký kết hôn ạ")
    assert first == again
    assert len(encoder.queries) == 1 and "cho em" not in encoder.queries[0]


def test_top_1_confidence_reads_the_runner_up(index: ProcedureIndex) -> None:
    searcher = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig())
    for question in ("đăng ký khai tử", "đăng ký khai sinh", "đăng ký kết hôn"):
        assert searcher.search(question, top_k=1) == searcher.search(question, top_k=5)[:1]
    uncalibrated = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig(calibrated=False))
    assert uncalibrated.search("khai tử", top_k=1) == uncalibrated.search("khai tử", top_k=5)[:1]


def test_the_encoder_reads_abbreviations_written_out_with_accents(index: ProcedureIndex) -> None:
    encoder = RecordingEncoder()
    searcher = ProcedureSearcher.from_index(index, encoder, config=SearchConfig())
    searcher.search("dk ket hon o dau")
    assert encoder.queries[-1].startswith("đăng ký kết hôn")
    searcher.search("đk kết hôn ở đâu")
    assert encoder.queries[-1].startswith("đăng ký kết hôn")


def test_a_folded_da_is_kept_as_the_past_marker() -> None:
    assert strip_courtesy("da nop ho so dang ky ket hon") == "da nop ho so dang ky ket hon"


def test_an_unaccented_question_weighs_the_encoder_more(index: ProcedureIndex) -> None:
    plain = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig(unaccented_dense_boost=0.0))
    boosted = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig(unaccented_dense_boost=0.5))
    folded, accented = plain.score_all("dang ky khai tu"), plain.score_all("đăng ký khai tử")
    assert folded.dense.max() > 0
    assert np.allclose(boosted.score_all("dang ky khai tu").fused - folded.fused, 0.5 * folded.dense, atol=1e-5)
    assert np.allclose(boosted.score_all("đăng ký khai tử").fused, accented.fused)


def test_the_encoder_reads_the_question_without_expansions_by_default(index: ProcedureIndex) -> None:
    encoder = RecordingEncoder()
    searcher = ProcedureSearcher.from_index(index, encoder, config=SearchConfig())
    searcher.search("làm giấy ks cho con ở đâu")
    assert "(" not in encoder.queries[-1]
    wide = ProcedureSearcher.from_index(index, encoder, config=SearchConfig(dense_expansion_chars=80))
    wide.search("làm giấy ks cho con ở đâu")
    assert "(" in encoder.queries[-1]
