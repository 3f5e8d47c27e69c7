"""A question naming a level (the ministry, the province, the commune) lifts that level's procedure."""

from __future__ import annotations

import pytest

from common.text import normalize_query
from knowledge.cues import asked_level
from knowledge.index import ProcedureIndex
from knowledge.schema import Procedure
from knowledge.search import ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import FakeEncoder

PROCS = [
    Procedure(code="9.500001", title="Cấp lại thẻ giám định viên tư pháp cấp tỉnh", levels=["Cấp tỉnh"]),
    Procedure(code="9.500002", title="Cấp lại thẻ giám định viên tư pháp cấp Trung ương", levels=["Cấp bộ"]),
    Procedure(code="9.500003", title="Khai thác thông tin công dân trong cơ sở dữ liệu dân cư", levels=["Cấp xã"]),
    Procedure(code="9.500004", title="Khai thác thông tin công dân trong cơ sở dữ liệu dân cư", levels=["Cấp tỉnh"]),
]


@pytest.mark.parametrize(("question", "level"), [
    ("thẻ giám định viên do Bộ cấp bị hỏng, xin lại ở đâu", "cap bo"),
    ("nộp hồ sơ hộ chiếu tại Cục Quản lý xuất nhập cảnh được không", "cap bo"),
    ("mat the can cuoc lam lai tai c06 bo cong an", "cap bo"),
    ("khai thác thông tin dân cư qua Công an tỉnh mất phí không", "cap tinh"),
    ("so tu phap o dau", "cap tinh"),
    ("có phải báo ủy ban xã không", "cap xa"),
    ("ubnd phuong lam giay xac nhan", "cap xa"),
    # a matter spanning several communes goes to the province, several provinces to the ministry
    ("hồ chứa nằm trên 2 xã, duyệt phương án ứng phó ở đâu", "cap tinh"),
    ("duong lien xa bi sat lo", "cap tinh"),
    ("thủy điện ở hai tỉnh xin giảm tiền dịch vụ môi trường rừng", "cap bo"),
    ("nhà tôi có 2 xe máy", None),
    ("bộ hồ sơ gồm những gì", None),  # a set of papers, not a ministry
    ("cuc ky gap, lam sao", None),  # "cực kỳ"
    ("tính tiền thuê đất thế nào", None),
    ("hợp tác xã nông nghiệp muốn vay vốn", None),
    ("làm ở tỉnh khác có đăng ký được không", None),
    ("cơ sở sản xuất cần giấy gì", None),
    ("bộ công an hay công an tỉnh cấp", None),  # two levels: no cue
])
def test_asked_level(question: str, level: str | None) -> None:
    assert asked_level(normalize_query(question)) == level


@pytest.fixture(scope="module")
def index() -> ProcedureIndex:
    return ProcedureIndex.build(PROCS, FakeEncoder())


def test_named_level_lifts_its_sibling(index: ProcedureIndex) -> None:
    on = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig())
    off = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig(level_cue_penalty=0.0))
    central = "thẻ giám định viên tư pháp của bộ bị mất"
    assert off.search(central)[0].code == "9.500001"  # in the province's scope
    assert on.search(central)[0].code == "9.500002"
    question = "thẻ giám định viên tư pháp do Bộ cấp bị hỏng, cấp lại ở đâu"
    gap_on, gap_off = (s.score_all(question).fused[:2] @ [1.0, -1.0] for s in (on, off))
    assert gap_off - gap_on >= 0.2 + 0.1  # the level cue's penalty, and no scope penalty for the ministry's
    assert on.search("cấp lại thẻ giám định viên tư pháp")[0].code == "9.500001"
    province = "khai thác thông tin công dân trong cơ sở dữ liệu dân cư qua công an tỉnh"
    assert off.search(province)[0].code == "9.500003"  # the two tie; the first listed comes first
    assert on.search(province)[0].code == "9.500004"
    assert on.search("khai thac thong tin cong dan co so du lieu dan cu o ubnd xa")[0].code == "9.500003"
