"""The portal crawl parser on synthetic rows and on all 2,642 real records."""

from __future__ import annotations

from collections import Counter

import pytest

from knowledge.importers.portal import FACETS_MEASURED, parse_record, parse_record_report
from knowledge.importers.portal_fields import (
    parse_channels,
    parse_documents,
    parse_legal_basis,
    parse_levels,
    parse_result,
    parse_steps,
)

# Measured on the 2026 crawl: channels 2642/2642, times 2505/2505, fees 2287/2288,
# documents 2591/2594, legal basis 2545/2566. Thresholds sit a little below.
MIN_PARSE_RATE = {"channels": 0.99, "times": 0.99, "fees": 0.99, "documents": 0.99, "legal_basis": 0.98}


def test_bare_hộ_tịch_times_are_working_days_and_free() -> None:
    rows = parse_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phíDịch vụ bưu chính1Miễn phíTrực tiếp3Miễn phí"
    )
    assert [c.name for c in rows] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    assert [c.working_days for c in rows] == [1.0, 1.0, 3.0]
    assert all(c.free and c.fee_vnd == 0 for c in rows)
    assert rows[2].time_text == "3 ngày làm việc"


def test_fee_amount_note_and_description() -> None:
    (row,) = parse_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp20 Ngày làm việc2,500,000 Việt Nam Đồng"
        "(Phí thẩm định (theo Thông tư 64/2025/TT-BTC))20 ngày làm việc kể từ khi nhận đủ hồ sơ."
    )
    assert row.fee_vnd == 2_500_000 and row.fee_text == "2.500.000 đồng" and not row.free
    assert row.fee_note == "Phí thẩm định (theo Thông tư 64/2025/TT-BTC)"
    assert row.note.startswith("20 ngày làm việc kể từ")
    assert row.working_days == 20


def test_calendar_units_hours_and_foreign_currency() -> None:
    rows = parse_channels(
        "Trực tiếp6 Tháng100 USD(100 USD/thẻ.)Trực tuyến8 GiờMiễn phíDịch vụ bưu chính15 NgàyMiễn phí"
    )
    assert rows[0].calendar_days == 180 and rows[0].working_days is None
    assert rows[0].fee_text == "100 USD" and rows[0].fee_vnd is None
    assert rows[1].working_days == 1.0 and rows[1].time_text == "8 giờ làm việc"
    assert rows[2].calendar_days == 15 and rows[2].time_text == "15 ngày"


def test_unitless_time_glued_to_fee_is_split() -> None:
    (online, direct) = parse_channels("Trực tuyến120 VNĐ(20.000 vnđ /tờ khai)Trực tiếp150,000 VNĐ")
    assert online.working_days == 1 and online.fee_vnd == 20_000  # fee given in thousands, note has it
    assert direct.working_days == 1 and direct.fee_vnd == 50_000


def test_time_in_words_and_channel_words_inside_descriptions() -> None:
    rows = parse_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyếnKhông phải trả kết quảMiễn phíNộp hồ sơ Trực tuyến: "
        "qua Cổng.Trực tiếpKhông Không có thông tinTại bộ phận một cửa"
    )
    assert [c.name for c in rows] == ["Trực tuyến", "Trực tiếp"]
    assert rows[0].time_text == "Không phải trả kết quả" and rows[0].free
    assert rows[1].time_text == "" and rows[1].fee_text == "" and rows[1].note == "Tại bộ phận một cửa"


def test_documents_sections_quantities_and_forms() -> None:
    docs = parse_documents(
        "* Giấy tờ phải nộp:Tên giấy tờMẫu đơn, tờ khaiSố lượng- Tờ khai theo mẫu;Mẫu số 01.docx1 bản chính"
        "Bản sao giấy phép0 bản chính,1 bản sao* Giấy tờ phải xuất trình:Tên giấy tờMẫu đơn, tờ khaiSố lượng"
        "- Thẻ căn cước1 bản chính"
    )
    assert [(d.name, d.original, d.copies, d.group) for d in docs] == [
        ("Tờ khai theo mẫu", 1, 0, "Giấy tờ phải nộp"),
        ("Bản sao giấy phép", 0, 1, "Giấy tờ phải nộp"),
        ("Thẻ căn cước", 1, 0, "Giấy tờ phải xuất trình"),
    ]
    assert docs[0].form_template == "Mẫu số 01.docx"


def test_legal_basis_numbers_glued_to_titles() -> None:
    rows = parse_legal_basis(
        "Tên văn bản pháp lýMã văn bảnThông tư hướng dẫn về phí85/2019/TT-BTCLuật 60/2014/QH1360/2014/QH13"
        "Nghị định 126/2020/NĐ-CP126/2020/NĐ-CPQuyết định 601/QĐ-BTC601/QĐ-BTC"
    )
    assert [r.number for r in rows] == ["85/2019/TT-BTC", "60/2014/QH13", "126/2020/NĐ-CP", "601/QĐ-BTC"]
    assert rows[0].title == "Thông tư hướng dẫn về phí"
    assert rows[1].title == "Luật 60/2014/QH13"


def test_result_levels_steps_and_empty_markers() -> None:
    assert parse_result("Sổ BHXHMã: KQ.G24.000002Thẻ BHYTMã: KQ.G24.000004Từ khóaKhông có thông tinMô tả...") == (
        "Sổ BHXH; Thẻ BHYT"
    )
    assert parse_result("Không có thông tin") == ""
    assert parse_levels("Cấp bộ, Cấp tỉnh, Cấp xã") == ["Cấp bộ", "Cấp tỉnh", "Cấp xã"]
    assert parse_steps("Bước 1: Nộp hồ sơ\nBước 2: Nhận kết\nquả tại một cửa") == [
        "Bước 1: Nộp hồ sơ",
        "Bước 2: Nhận kết quả tại một cửa",
    ]
    assert parse_legal_basis("Không có thông tin") == []


def test_record_without_code_is_an_error() -> None:
    with pytest.raises(ValueError, match="ma_thu_tuc"):
        parse_record({"ten_thu_tuc": "X"})
    with pytest.raises(ValueError, match="title"):
        parse_record({"ma_thu_tuc": "1.1"})


def test_every_real_record_parses_with_high_rates(crawl_records: list[dict]) -> None:
    assert len(crawl_records) == 2642
    present: Counter[str] = Counter()
    parsed: Counter[str] = Counter()
    codes = set()
    for raw in crawl_records:
        procedure, report = parse_record_report(raw)
        codes.add(procedure.code)
        present.update(report.present)
        parsed.update(report.parsed)
        assert procedure.title and procedure.source_url.startswith("https://dichvucong.gov.vn/")
        assert "Từ khóa" not in procedure.result and procedure.conditions != "Không có thông tin"
        for channel in procedure.channels:
            assert channel.name in {"Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính"}
    assert len(codes) == 2642
    for facet in FACETS_MEASURED:
        rate = parsed[facet] / present[facet]
        assert rate >= MIN_PARSE_RATE[facet], (facet, parsed[facet], present[facet])


def test_known_real_records(crawl_records: list[dict]) -> None:
    by_code = {r["ma_thu_tuc"]: r for r in crawl_records}
    khai_sinh = parse_record(by_code["1.001193"])
    assert khai_sinh.title == "Thủ tục đăng ký khai sinh" and khai_sinh.field == "Hộ tịch"
    assert khai_sinh.levels == ["Cấp xã"] and khai_sinh.result == "Giấy khai sinh"
    assert {c.working_days for c in khai_sinh.channels} == {1.0} and all(c.free for c in khai_sinh.channels)
    assert {"Giấy tờ phải nộp", "Giấy tờ phải xuất trình"} <= {d.group for d in khai_sinh.documents}
    assert any(d.name.startswith("Giấy chứng sinh") for d in khai_sinh.documents)
    numbers = [b.number for b in khai_sinh.legal_basis]
    assert "85/2019/TT-BTC" in numbers and "60/2014/QH13" in numbers and "123/2015/NĐ-CP" in numbers

    abtc = parse_record(by_code["1.001010"])
    assert abtc.channels[0].fee_text == "100 USD" and abtc.channels[0].calendar_days == 180

    tax = parse_record(by_code["1.007689"])
    assert tax.channels and tax.channels[0].time_text.startswith("Không phải trả kết quả")

    forms = parse_record(by_code["1.003777"])
    assert any(d.form_template == "Mẫu 05A.TT41.doc" for d in forms.documents)
