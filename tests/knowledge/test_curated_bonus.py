"""A curated procedure (one with example questions) ranks above a crawl sibling at equal evidence."""

from __future__ import annotations

from dataclasses import replace

from knowledge.index import ProcedureIndex
from knowledge.schema import Procedure
from knowledge.search import ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import FakeEncoder


def _index() -> ProcedureIndex:
    common = {"levels": ["Cấp xã"], "applicants": "Công dân Việt Nam"}
    procs = [
        Procedure(code="9.200001", title="Đăng ký tạm trú cho người thuê trọ", **common),  # crawl record
        Procedure(code="9.200002", title="Đăng ký tạm trú cho người thuê trọ", aliases=["khai báo tạm trú"],
                  questions=["ở trọ có phải báo công an không"], **common),  # curated
        Procedure(code="9.200003", title="Xóa đăng ký thường trú", **common),
    ]
    return ProcedureIndex.build(procs, FakeEncoder())


def test_the_curated_twin_wins_a_tie_and_the_bonus_is_what_decides() -> None:
    index = _index()
    on = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig())
    off = ProcedureSearcher.from_index(index, FakeEncoder(), config=replace(SearchConfig(), curated_bonus=0.0))
    question = "đăng ký tạm trú cho người thuê trọ"
    assert on.search(question)[0].code == "9.200002"
    gap = on.score_all(question).fused - off.score_all(question).fused
    assert gap[1] > 0 and gap[0] == 0 and gap[2] == 0
    assert off.score_all(question).fused[0] >= off.score_all(question).fused[1] - 1e-6
