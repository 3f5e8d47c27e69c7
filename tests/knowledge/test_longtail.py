"""Long-tail search: citizen lexicon, aliases derived from the record, province scope, calibrated policy."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from knowledge import decision
from knowledge.derived import core_title, derived_passages, expand_abbreviations, result_names
from knowledge.distinctive import TitleWords
from knowledge.index import ProcedureIndex
from knowledge.lexical import SynonymTable
from knowledge.schema import Procedure
from knowledge.search import LEXICON, Hit, ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import CRAWL, ROOT, FakeEncoder, RecordingEncoder

LONGTAIL = ROOT / "bench" / "longtail"


def test_lexicon_maps_citizen_words_to_portal_words() -> None:
    lexicon = SynonymTable.load(LEXICON)
    assert "công ty doanh nghiệp" in lexicon.expansions("cty tnhh 1 thanh vien")
    assert "trách nhiệm hữu hạn" in lexicon.expansions("cty tnhh 1 thanh vien")
    assert any("chuyển mục đích sử dụng đất" in e for e in lexicon.expansions("muốn lên thổ cư"))
    assert any("thị thực" in e for e in lexicon.expansions("xin visa cho ban"))
    assert "trực tuyến" in lexicon.expansions("đk tạm trú onl")
    assert "hộ chiếu phổ thông" in SynonymTable.default().expansions("lam pp cho con")
    assert lexicon.expansions("thời tiết hôm nay") == []


def test_core_title_drops_boilerplate_and_levels() -> None:
    assert core_title("Thủ tục đăng ký khai tử lưu động") == "đăng ký khai tử lưu động"
    assert core_title("Cấp lại thẻ căn cước (thực hiện tại cấp tỉnh)") == "Cấp lại thẻ căn cước"
    assert core_title("Cấp giấy phép môi trường (cấp Tỉnh) ( 1.010727 )") == "Cấp giấy phép môi trường"
    assert core_title("Gia hạn tạm trú tại Công an cấp tỉnh") == "Gia hạn tạm trú"


def test_abbreviations_are_spelled_out() -> None:
    text = expand_abbreviations("Giải quyết hưởng chế độ TNLĐ, BNN do thương tật tái phát")
    assert "tai nạn lao động" in text and "bệnh nghề nghiệp" in text
    assert expand_abbreviations("BNNPTNT") == "BNNPTNT"  # only whole words


def test_result_names_keep_papers_and_drop_refusals() -> None:
    assert result_names("Giấy phép lái xe; Văn bản từ chối cấp giấy phép") == ["Giấy phép lái xe"]
    names = result_names("Quyết định công bố mở cảng cá theo Mẫu số 02.CC Phụ lục XII ban hành kèm theo Thông tư")
    assert names == ["Quyết định công bố mở cảng cá"]
    assert result_names("Hồ sơ gửi đến cơ quan thuế không có kết quả giải quyết") == []


def _proc(code: str, title: str, levels: list[str], result: str = "") -> Procedure:
    return Procedure(code=code, title=title, levels=levels, result=result, applicants="Công dân Việt Nam")


@pytest.fixture(scope="module")
def tiny() -> ProcedureIndex:
    """Four procedures: the same title at ministry and province level, and two told apart by result."""
    procs = [
        _proc("9.000001", "Cấp chứng chỉ hành nghề thú y", ["Cấp bộ"]),
        _proc("9.000002", "Cấp chứng chỉ hành nghề thú y", ["Cấp tỉnh"]),
        _proc("9.000003", "Thủ tục đăng ký phương tiện đánh bắt", ["Cấp tỉnh"], "Giấy chứng nhận đăng ký tàu cá"),
        _proc("9.000004", "Thủ tục đăng ký hoạt động nuôi", ["Cấp tỉnh"], "Giấy xác nhận nuôi trồng lồng bè"),
    ]
    return ProcedureIndex.build(procs, FakeEncoder())


def test_province_scope_ranks_its_levels_first_without_hiding_others(tiny: ProcedureIndex) -> None:
    province = ProcedureSearcher.from_index(tiny, FakeEncoder(), config=SearchConfig())
    codes = [h.code for h in province.search("xin chứng chỉ hành nghề thú y")]
    assert codes[:2] == ["9.000002", "9.000001"]  # the ministry one is still offered
    ministry = SearchConfig(scope_levels=("Cấp bộ",))
    codes = [h.code for h in ProcedureSearcher.from_index(tiny, FakeEncoder(), config=ministry).search(
        "xin chứng chỉ hành nghề thú y")]
    assert codes[0] == "9.000001"


def test_result_name_is_a_signal_of_its_own(tiny: ProcedureIndex) -> None:
    with_result = ProcedureSearcher.from_index(tiny, FakeEncoder(), config=SearchConfig())
    assert with_result.search("xin giấy chứng nhận đăng ký tàu cá")[0].code == "9.000003"
    assert ("result", "Giấy chứng nhận đăng ký tàu cá") in derived_passages(
        _proc("x", "Thủ tục a", [], "Giấy chứng nhận đăng ký tàu cá"))


def test_decide_answers_asks_or_gives_up() -> None:
    sure = [Hit("a", "A", 0.95), Hit("b", "B", 0.3)]
    unsure = [Hit("a", "A", 0.6), Hit("b", "B", 0.5), Hit("c", "C", 0.4), Hit("d", "D", 0.3), Hit("e", "E", 0.2)]
    assert decision.decide(sure).kind == "answer" and decision.decide(sure).candidates == [sure[0]]
    asked = decision.decide(unsure)
    assert asked.kind == "clarify" and 2 <= len(asked.candidates) <= 4
    assert decision.decide([Hit("a", "A", 0.1)]).kind == "not_found"
    assert decision.decide([]).kind == "not_found"
    assert decision.by_margin(unsure, 0.5, 0.15).kind == "clarify"
    assert decision.by_margin(sure, 0.5, 0.15).kind == "answer"


def test_confidence_grows_with_evidence() -> None:
    weak = decision.probability([0.2, 0.0, 0.0, 0.5, 0.3, 0.0, 0.0, 0.0, 0.0])
    strong = decision.probability([0.9, 0.4, 1.0, 1.0, 1.0, 0.2, 0.08, 0.5, 0.0])
    assert 0.0 < weak < decision.ANSWER_THRESHOLD <= strong < 1.0
    x = [[0.1, 0.0, 0.0, 0.2, 0.1], [0.9, 0.5, 1.0, 1.0, 1.0]] * 20
    weights = decision.fit_logistic(np.asarray(x), np.asarray([0.0, 1.0] * 20))
    assert decision.probability(x[1], weights) > 0.9 > 0.1 > decision.probability(x[0], weights)


def test_confidence_drops_when_the_runner_up_title_holds_the_distinctive_words() -> None:
    # Same dense match, lead and coverage; the question's rare words are in the runner-up's title, not the top hit's.
    assert decision.FEATURES[4:8] == ("title_cover", "sibling", "sibling_lead", "title_edge")
    ahead = decision.probability([0.85, 0.1, 1.0, 1.0, 0.9, 0.6, 0.06, 0.4, 0.0])
    behind = decision.probability([0.85, 0.1, 1.0, 1.0, 0.9, 0.6, 0.06, -0.2, 0.0])
    assert behind < decision.ANSWER_THRESHOLD <= ahead


def test_search_confidence_reads_the_runner_up() -> None:
    procs = [_proc(f"9.00020{k}", title, ["Cấp tỉnh"]) for k, title in enumerate([
        "Sát hạch cấp giấy phép lái tàu", "Xét cấp giấy phép lái tàu", "Cấp giấy phép xây dựng nhà ở",
        "Đăng ký khai sinh"])]
    index = ProcedureIndex.build(procs, FakeEncoder())
    searcher = ProcedureSearcher.from_index(index, FakeEncoder())
    question = "thi đạt rồi xin cấp giấy phép lái tàu"
    hits = searcher.search(question, top_k=3)
    scored = searcher.score_all(question)
    order = np.argsort(-scored.fused, kind="stable")
    top, rival = int(order[0]), int(order[1])
    assert {hits[0].code, hits[1].code} == {"9.000200", "9.000201"}
    assert 0.3 < searcher.sibling_overlap(top, rival) < 1.0 and searcher.sibling_overlap(top, 3) == 0.0
    values = decision.features(scored.dense, scored.lexical, scored.fused, order, 0, searcher.coverage(scored, top),
                               searcher.title_cover(scored, top), searcher.title_cover(scored, rival),
                               searcher.sibling_overlap(top, rival), 0.0)
    assert hits[0].score == round(decision.probability(values), 4)


def test_title_cover_weighs_rare_question_words_more() -> None:
    procs = [_proc(f"9.00010{k}", title, ["Cấp tỉnh"]) for k, title in enumerate([
        "Cấp giấy phép xây dựng công trình", "Cấp giấy phép khai thác công trình thủy lợi",
        "Cấp giấy phép xây dựng nhà ở", "Cấp giấy phép xây dựng có thời hạn", "Cấp giấy phép lái xe"])]
    index = ProcedureIndex.build(procs, FakeEncoder())
    searcher = ProcedureSearcher.from_index(index, FakeEncoder())
    scored = searcher.score_all("xin giấy phép xây dựng gần công trình thủy lợi")
    building, irrigation = searcher.title_cover(scored, 0), searcher.title_cover(scored, 1)
    # Each title holds six of the question's eight known words, but "thủy lợi" is rarer than "xây dựng".
    assert 0.0 < building < irrigation < 1.0
    assert searcher.title_cover(searcher.score_all("giấy phép"), 4) == 1.0
    assert TitleWords(index).cover(np.asarray([], np.int64), 0) == 0.0


def test_fit_weights_count_some_rows_more() -> None:
    x = np.asarray([[0.0], [1.0], [1.0], [1.0]])
    y = np.asarray([0.0, 1.0, 0.0, 0.0])
    plain = decision.fit_logistic(x, y, steps=3000)
    weighted = decision.fit_logistic(x, y, steps=3000, weights=np.asarray([1.0, 5.0, 1.0, 1.0]))
    assert decision.probability([1.0], weighted) > 0.5 > decision.probability([1.0], plain)


def _rows(path: Path) -> list[tuple[list[str], str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and not line.startswith("codes\t"):
            codes, style, question = line.split("\t")
            rows.append((codes.split("|"), style, question))
    return rows


@pytest.mark.skipif(not CRAWL.exists(), reason="shared crawl not available")
def test_longtail_sets_are_outside_the_curated_set_and_disjoint() -> None:
    with gzip.open(CRAWL, "rt", encoding="utf-8") as fh:
        known = {json.loads(line)["ma_thu_tuc"] for line in fh if line.strip()}
    curated = {line.split(":", 1)[1].strip().strip("'\"")
               for path in (ROOT / "knowledge" / "catalogue").glob("*.yml")
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip().startswith("- code:")}
    held_out, dev = _rows(LONGTAIL / "questions.tsv"), _rows(LONGTAIL / "dev.tsv")
    assert len(held_out) >= 150
    for style in ("formal", "colloquial", "unaccented", "typo"):
        assert sum(s == style for _, s, _ in held_out) >= 30
    held_codes = {c for codes, _, _ in held_out for c in codes}
    dev_codes = {c for codes, _, _ in dev for c in codes}
    assert held_codes <= known and dev_codes <= known
    assert not (held_codes | dev_codes) & curated
    assert not held_codes & dev_codes


def test_wilson_lower_bound_is_below_the_observed_precision() -> None:
    assert decision.wilson_lower(0, 0) == 0.0
    assert 0.90 < decision.wilson_lower(98, 100) < 0.98
    assert decision.wilson_lower(10, 10) < decision.wilson_lower(100, 100) < 1.0


def test_threshold_is_the_lowest_from_which_precision_holds() -> None:
    probs = [0.99] * 60 + [0.9] * 20 + [0.7] * 20
    right = [True] * 60 + [True] * 20 + [True, False] * 10
    assert decision.choose_threshold(probs, right, (0.6, 0.8, 0.95)) == 0.8
    # a wrong answer at the very top spoils every threshold below it too
    assert decision.choose_threshold([0.99, 0.9], [False, True], (0.5, 0.95)) is None
    # a group too small for the Wilson bound is held to its observed precision
    assert decision.choose_threshold([0.99] * 19 + [0.9], [True] * 19 + [False], (0.8, 0.95)) is None
    assert decision.choose_threshold([0.99] * 19 + [0.9], [True] * 19 + [False], (0.8, 0.95),
                                     bound=decision.precision) == 0.8


def test_searcher_repairs_typos_and_gives_the_encoder_accents(tiny: ProcedureIndex) -> None:
    encoder = RecordingEncoder()
    searcher = ProcedureSearcher.from_index(tiny, encoder)
    hits = searcher.search("cap chung chi hanh nghee thu y", top_k=2)
    assert {h.code for h in hits} == {"9.000001", "9.000002"}
    assert encoder.queries[-1].startswith("cấp chứng chỉ hành nghề thú y")
    plain = ProcedureSearcher.from_index(tiny, encoder, config=SearchConfig(use_spelling=False, use_accents=False))
    plain.search("cap chung chi hanh nghee thu y", top_k=2)
    assert encoder.queries[-1].startswith("cap chung chi hanh nghee thu y")


class PromptEncoder(FakeEncoder):
    """A fake encoder whose passage vectors live apart from its query vectors (as two prompts would put them)."""

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.encode_queries([f"passage {t} passage" for t in texts]) * 0.0


def test_uncurated_titles_are_also_embedded_as_questions() -> None:
    curated = Procedure(code="9.000010", title="Thủ tục đăng ký khai sinh", questions=["làm giấy khai sinh"])
    plain = _proc("9.000011", "Thủ tục cấp giấy phép hành nghề thú y (cấp tỉnh)", ["Cấp tỉnh"])
    index = ProcedureIndex.build([curated, plain], PromptEncoder())
    assert [int(o) for o, k in zip(index.owners, index.kinds, strict=True) if k == "title_query"] == [1]
    dense_only = SearchConfig(use_lexical=False, use_prior=False, use_scope=False, title_excess_weight=0.0,
                              curated_bonus=0.0, calibrated=False)
    searcher = ProcedureSearcher.from_index(index, PromptEncoder(), config=dense_only)
    scored = searcher.score_all("cấp giấy phép hành nghề thú y")
    assert scored.dense[1] > 0.5 and scored.dense[0] == 0.0
    off = ProcedureSearcher.from_index(index, PromptEncoder(), config=replace(dense_only, use_query_titles=False))
    assert off.score_all("cấp giấy phép hành nghề thú y").dense[1] == 0.0


def test_lexical_search_reads_citizen_abbreviations_written_out() -> None:
    procs = [
        _proc("9.000021", "Cấp đổi giấy chứng nhận quyền sử dụng đất", ["Cấp huyện"]),
        _proc("9.000022", "Đăng ký thường trú", ["Cấp xã"]),
    ]
    index = ProcedureIndex.build(procs, FakeEncoder())
    lexical_only = SearchConfig(use_dense=False)
    searcher = ProcedureSearcher.from_index(index, FakeEncoder(), config=lexical_only)
    assert searcher.search("sđ bị rách")[0].code == "9.000021"
    assert searcher.score_all("sđ bị rách").lexical[0] == 1.0
    off = ProcedureSearcher.from_index(index, FakeEncoder(), config=replace(lexical_only, lexical_abbreviations=False))
    assert off.score_all("sđ bị rách").lexical[0] == 0.0
