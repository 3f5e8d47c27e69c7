"""Question cues: who asks (an organisation or a household) and which way goods go push down the other siblings."""

from __future__ import annotations

import pytest

from knowledge.cues import asker, trade_direction
from knowledge.index import ProcedureIndex
from knowledge.qualifiers import applicant_marks, trade_marks
from knowledge.schema import Procedure
from knowledge.search import ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import FakeEncoder

LAND = "Đăng ký đất đai, cấp Giấy chứng nhận quyền sử dụng đất lần đầu đối với"
PROCS = [
    Procedure(code="9.200001", title=f"{LAND} tổ chức đang sử dụng đất", levels=["Cấp xã"]),
    Procedure(code="9.200002", title=f"{LAND} hộ gia đình, cá nhân, cộng đồng dân cư", levels=["Cấp xã"]),
    Procedure(code="9.200003", title="Đăng ký thuế lần đầu đối với người nộp thuế là tổ chức", levels=["Cấp tỉnh"]),
    Procedure(code="9.200004", title="Đăng ký thuế lần đầu đối với người nộp thuế là cá nhân", levels=["Cấp tỉnh"]),
    Procedure(code="9.200005", title="Khai thuế đối với tổ chức, cá nhân cho thuê tài sản", levels=["Cấp tỉnh"]),
    Procedure(code="9.200006", title="Thủ tục tổ chức lễ hội", levels=["Cấp tỉnh"]),
]


@pytest.fixture(scope="module")
def index() -> ProcedureIndex:
    return ProcedureIndex.build(PROCS, FakeEncoder())


def test_titles_for_one_kind_of_applicant_are_marked(index: ProcedureIndex) -> None:
    marks = {d.code: tuple(m) for d, m in zip(index.docs, applicant_marks(index), strict=True)}
    assert marks["9.200001"] == (1.0, 0.0)
    assert marks["9.200002"] == (0.0, 1.0)
    assert marks["9.200003"] == (1.0, 0.0)
    assert marks["9.200004"] == (0.0, 1.0)
    assert marks["9.200005"] == (0.0, 0.0)  # both kinds
    assert marks["9.200006"] == (0.0, 0.0)  # "tổ chức" the verb


@pytest.mark.parametrize(("question", "who"), [
    ("công ty tôi mới thành lập, đăng ký mã số thuế ở đâu", "org"),
    ("cty e can xin giay phep", "org"),
    ("trường học đang dùng đất chưa có sổ", "org"),
    ("hop tac xa nong nghiep muon vay von", "org"),
    ("cộng đồng thôn được giao rừng", "ind"),
    ("ho gia dinh toi dang su dung dat", "ind"),
    ("nhà tôi muốn xây thêm tầng", "ind"),
    ("cho em hỏi làm hộ chiếu ở đâu", None),
    ("muốn tổ chức đám cưới ở nhà văn hóa", None),
])
def test_who_asks(question: str, who: str | None) -> None:
    from common.text import normalize_query

    assert asker(normalize_query(question)) == who


def test_asker_lifts_the_sibling_for_that_applicant(index: ProcedureIndex) -> None:
    on = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig())
    off = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig(applicant_penalty=0.0))
    for question in ("công ty mới thành lập đăng ký thuế lần đầu ở đâu", "cty e moi lap, dang ky thue lan dau"):
        assert [h.code for h in on.search(question)][:2] == ["9.200003", "9.200004"], question
        # Without the cue the two titles tie on the question's words, and the one for individuals came first.
        assert off.search(question)[0].code == "9.200004", question
    hits = on.search("nhà tôi đăng ký thuế lần đầu")
    assert hits[0].code == "9.200004" and hits[0].score > hits[1].score
    assert on.search("hộ gia đình tôi đang sử dụng đất, đăng ký lần đầu")[0].code == "9.200002"
    assert on.search("hop tac xa dang su dung dat, dang ky lan dau o dau")[0].code == "9.200001"


TRADE = [
    Procedure(code="9.300001", title="Kiểm tra nhà nước về an toàn thực phẩm đối với thực phẩm nhập khẩu",
              levels=["Cấp tỉnh"]),
    Procedure(code="9.300002", title="Kiểm tra nhà nước về an toàn thực phẩm đối với thực phẩm xuất khẩu",
              levels=["Cấp tỉnh"]),
    Procedure(code="9.300003", title="Cấp giấy phép xuất khẩu, nhập khẩu tiền chất", levels=["Cấp tỉnh"]),
]


@pytest.mark.parametrize(("question", "way"), [
    ("xuất lô thanh long đi nước ngoài thì kiểm tra ở đâu", "export"),
    ("cong ty xuat khau gao", "export"),
    ("muốn nhập hàng mỹ phẩm về bán", "import"),
    ("nhap khau phan bon tu trung quoc", "import"),
    ("cơ sở sản xuất nước mắm cần giấy gì", None),  # "sản xuất" is not an export
    ("xuất khẩu và nhập khẩu hàng mẫu", None),
])
def test_trade_direction(question: str, way: str | None) -> None:
    from common.text import normalize_query

    assert trade_direction(normalize_query(question)) == way


def test_export_question_pushes_down_the_import_title() -> None:
    index = ProcedureIndex.build(TRADE, FakeEncoder())
    assert [tuple(m) for m in trade_marks(index)] == [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0)]
    on = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig())
    off = ProcedureSearcher.from_index(index, FakeEncoder(), config=SearchConfig(trade_penalty=0.0))
    question = "kiểm tra nhà nước về an toàn thực phẩm cho lô hàng bán ra nước ngoài"
    assert on.search(question)[0].code == "9.300002"
    assert off.search(question)[0].code == "9.300001"  # the two titles tie; the first one listed came first
    assert on.search("nhập hàng thực phẩm về, kiểm tra nhà nước an toàn thực phẩm")[0].code == "9.300001"


@pytest.mark.parametrize("question", [
    "lm rớt cccd ở chợ, xin thẻ khác", "lam rot bang lai roi", "giấy đăng ký tàu bị thất lạc",
])
def test_dropped_or_mislaid_asks_for_a_new_copy(question: str) -> None:
    from knowledge.cues import asked_actions

    assert "cap lai" in asked_actions(question)


INVEST = [
    Procedure(code="9.400001", title="Cấp Giấy chứng nhận đăng ký đầu tư ra nước ngoài", levels=["Cấp bộ"]),
    Procedure(code="9.400002", title="Hiệu đính Giấy chứng nhận đăng ký đầu tư ra nước ngoài", levels=["Cấp bộ"]),
    Procedure(code="9.400003", title="Chuyển đổi loại hình hợp tác xã", levels=["Cấp tỉnh"]),
    Procedure(code="9.400004", title="Đăng ký thành lập hợp tác xã", levels=["Cấp tỉnh"]),
]


@pytest.mark.parametrize(("question", "action"), [
    ("giấy chứng nhận đầu tư ra nước ngoài ghi nhầm tên công ty thì làm sao", "hieu dinh"),
    ("giay chung nhan dau tu bi sai thong tin, xin hieu dinh", "hieu dinh"),
    ("htx muốn chuyển sang công ty thì làm gì", "chuyen doi"),
    ("chuyen doi loai hinh hop tac xa", "chuyen doi"),
    ("không khai thác đá nữa, muốn trả lại giấy phép", "tra lai"),
    ("lam quan tai vien muon thoi, nop lai chung chi", "tra lai"),
    ("giám định viên muốn xin thôi, miễn nhiệm thế nào", "mien nhiem"),
    ("chứng chỉ bị đình chỉ, muốn phục hồi", "phuc hoi"),
    ("trung tâm sát hạch bên em bị rút giấy phép, xử lý sao", "thu hoi"),
    ("co so bi rut phep hoat dong thi sao", "thu hoi"),
])
def test_correcting_and_converting_are_asked_actions(question: str, action: str) -> None:
    from knowledge.cues import asked_actions

    assert action in asked_actions(question)


def test_correction_and_conversion_titles_rank_below_for_a_plain_question() -> None:
    from knowledge.index import title_qualifiers

    assert "action:hieu dinh" in title_qualifiers(INVEST[1].title)
    assert "action:chuyen doi" in title_qualifiers(INVEST[2].title)
    searcher = ProcedureSearcher.from_index(ProcedureIndex.build(INVEST, FakeEncoder()), FakeEncoder())
    assert searcher.search("xin giấy chứng nhận đăng ký đầu tư ra nước ngoài")[0].code == "9.400001"
    assert searcher.search("giấy chứng nhận đăng ký đầu tư ra nước ngoài bị sai, hiệu đính ở đâu")[0].code == "9.400002"
    assert searcher.search("đăng ký hợp tác xã")[0].code == "9.400004"


def test_returning_a_permit_is_an_action_of_its_own() -> None:
    procs = [
        Procedure(code="9.400011", title="Cấp giấy phép khai thác khoáng sản (cấp Tỉnh)", levels=["Cấp tỉnh"]),
        Procedure(code="9.400012", title="Trả lại giấy phép khai thác khoáng sản (cấp Tỉnh)", levels=["Cấp tỉnh"]),
    ]
    searcher = ProcedureSearcher.from_index(ProcedureIndex.build(procs, FakeEncoder()), FakeEncoder())
    assert searcher.search("muốn mở mỏ đá thì xin giấy phép khai thác khoáng sản ở đâu")[0].code == "9.400011"
    assert searcher.search("không khai thác nữa, trả lại giấy phép khai thác khoáng sản")[0].code == "9.400012"


@pytest.mark.parametrize(("question", "action"), [
    ("làm sao để đăng ký kết hôn", "ban sao"),
    ("dang ky ket hon thi sao", "ban sao"),
    ("quán muốn bán thêm cà phê có phải sửa giấy phép không", "gia han"),
    ("nghỉ ốm 5 ngày thì hưởng chế độ thế nào", "tam ngung"),
    ("nghỉ hưu rồi lĩnh lương hưu ở đâu", "mien nhiem"),
    ("trả tiền lệ phí bằng chuyển khoản được không", "tra lai"),
    ("rút bhxh một lần cần giấy gì", "mien nhiem"),
])
def test_everyday_words_do_not_ask_for_an_action(question: str, action: str) -> None:
    from knowledge.cues import asked_actions

    assert action not in asked_actions(question)


@pytest.mark.parametrize(("question", "action"), [
    ("xin bản sao giấy khai sinh", "ban sao"),
    ("tạm trú sắp hết, muốn ở thêm", "gia han"),
    ("hộ kinh doanh muốn nghỉ kinh doanh vài tháng", "tam ngung"),
    ("không khai thác nữa, trả giấy phép", "tra lai"),
])
def test_narrowed_action_words_still_ask(question: str, action: str) -> None:
    from knowledge.cues import asked_actions

    assert action in asked_actions(question)
