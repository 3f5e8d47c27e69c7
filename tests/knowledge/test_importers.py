"""Importers: real crawl, broken files rejected whole, dry runs, project YAML/JSON, xlsx merge."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

from knowledge.__main__ import main
from knowledge.importers import detect_format, import_file
from knowledge.schema import Procedure
from knowledge.store import Catalogue


def write_jsonl(path: Path, records: list[object], broken_line: int | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if broken_line is not None:
        lines.insert(broken_line - 1, '{"ma_thu_tuc": "9.9", "ten_thu_tuc": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def seed(code: str = "1.001193") -> Procedure:
    return Procedure(
        code=code,
        title="Đăng ký khai sinh",
        summary="Khai sinh cho trẻ.",
        aliases=["làm giấy khai sinh"],
        questions=["làm giấy khai sinh cần gì"],
    )


def test_real_crawl_dry_run_then_import(catalogue: Catalogue, crawl_path: Path) -> None:
    dry = import_file(catalogue, crawl_path, dry_run=True)
    assert dry.ok and dry.format == "portal" and dry.records == 2642 and len(dry.added) == 2642
    assert catalogue.count() == 0 and catalogue.revision() == 0  # dry run wrote nothing
    assert dry.parse_rates["channels"][0] / dry.parse_rates["channels"][1] > 0.99

    report = import_file(catalogue, crawl_path)
    assert report.ok and len(report.added) == 2642 and catalogue.count() == 2642 and report.revision == 1
    again = import_file(catalogue, crawl_path, dry_run=True)
    assert len(again.unchanged) == 2642 and not again.added and not again.updated


def test_portal_import_keeps_seed_questions_and_aliases(catalogue: Catalogue, crawl_records: list[dict],
                                                        tmp_path: Path) -> None:
    catalogue.upsert(seed())
    raw = next(r for r in crawl_records if r["ma_thu_tuc"] == "1.001193")
    report = import_file(catalogue, write_jsonl(tmp_path / "one.jsonl", [raw]))
    assert report.ok and report.updated == ["1.001193"]
    merged = catalogue.get("1.001193")
    assert merged is not None
    assert merged.questions == ["làm giấy khai sinh cần gì"] and merged.aliases == ["làm giấy khai sinh"]
    assert merged.summary == "Khai sinh cho trẻ." and merged.channels and merged.title == raw["ten_thu_tuc"]


def test_broken_jsonl_is_rejected_whole(catalogue: Catalogue, tmp_path: Path) -> None:
    good = {"ma_thu_tuc": "1.1", "ten_thu_tuc": "Thủ tục A"}
    no_title = {"ma_thu_tuc": "1.3"}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, {"ma_thu_tuc": "1.2", "ten_thu_tuc": "B"}, no_title],
                       broken_line=2)
    for dry_run in (True, False):
        report = import_file(catalogue, path, dry_run=dry_run)
        assert not report.ok
        assert any(e.startswith("record 2:") and "invalid JSON" in e for e in report.errors)
        assert any(e.startswith("record 4:") and "title" in e for e in report.errors)
        assert catalogue.count() == 0 and catalogue.revision() == 0


def test_gzipped_json_list_of_portal_records(catalogue: Catalogue, tmp_path: Path) -> None:
    path = tmp_path / "list.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump([{"ma_thu_tuc": "1.1", "ten_thu_tuc": "A", "cach_thuc_thuc_hien": "Trực tiếp5 NgàyMiễn phí"}], handle)
    assert detect_format(path) == "portal"
    report = import_file(catalogue, path)
    assert report.ok and catalogue.get("1.1").channels[0].calendar_days == 5  # type: ignore[union-attr]


def test_project_yaml_and_json_forms(catalogue: Catalogue, tmp_path: Path) -> None:
    items = [seed("1.1").to_dict(), Procedure(code="1.2", title="Kết hôn").to_dict()]
    yml = tmp_path / "c.yml"
    yml.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    report = import_file(catalogue, yml)
    assert report.ok and report.format == "project" and sorted(report.added) == ["1.1", "1.2"]
    js = tmp_path / "c.json"
    items[1]["title"] = "Đăng ký kết hôn"
    js.write_text(json.dumps({"procedures": items}, ensure_ascii=False), encoding="utf-8")
    dry = import_file(catalogue, js, dry_run=True)
    assert dry.ok and dry.updated == ["1.2"] and dry.unchanged == ["1.1"]
    assert catalogue.get("1.2").title == "Kết hôn"  # type: ignore[union-attr]


def test_broken_project_file_changes_nothing(catalogue: Catalogue, tmp_path: Path) -> None:
    catalogue.upsert(seed("1.1"))
    items = [
        Procedure(code="1.1", title="Đổi tên").to_dict(),
        {"code": "1.2", "title": "", "channels": []},
        {"code": "1.3", "title": "X", "colour": "red"},
        {"code": "1.4", "title": "Y", "channels": [{"name": "Trực tiếp", "speed": 3}]},
    ]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    report = import_file(catalogue, path)
    assert not report.ok
    text = "\n".join(report.errors)
    assert "record 2 (1.2)" in text and "record 3 (1.3)" in text and "colour" in text and "record 4" in text
    assert catalogue.get("1.1").title == "Đăng ký khai sinh" and catalogue.revision() == 1  # type: ignore[union-attr]
    garbage = tmp_path / "garbage.yml"
    garbage.write_text("a: [unclosed", encoding="utf-8")
    assert not import_file(catalogue, garbage).ok


def make_xlsx(path: Path, rows: list[tuple[object, ...]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nDANH SÁCH THỦ TỤC HÀNH CHÍNH"])
    sheet.append([])
    sheet.append(["Mã số", "Tên", "Cơ quan ban hành", "Cơ quan thực hiện", "Lĩnh vực"])
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def test_xlsx_merges_names_and_fields_without_wiping_details(catalogue: Catalogue, tmp_path: Path) -> None:
    detailed = seed("1.1")
    detailed.steps = ["Nộp hồ sơ"]
    catalogue.upsert(detailed)
    path = make_xlsx(tmp_path / "list.xlsx", [
        ("1.1", "Thủ tục đăng ký khai sinh", "Bộ Tư pháp", "UBND cấp xã", "Hộ tịch"),
        ("1.2", "Thủ tục đăng ký kết hôn", "Bộ Tư pháp", "UBND cấp xã\nSở Tư pháp", "Hộ tịch"),
    ])
    report = import_file(catalogue, path)
    assert report.ok and report.added == ["1.2"] and report.updated == ["1.1"]
    merged = catalogue.get("1.1")
    assert merged is not None and merged.title == "Thủ tục đăng ký khai sinh" and merged.field == "Hộ tịch"
    assert merged.steps == ["Nộp hồ sơ"] and merged.questions == detailed.questions
    skeleton = catalogue.get("1.2")
    assert skeleton is not None and skeleton.agencies == ["UBND cấp xã", "Sở Tư pháp"] and not skeleton.steps


def test_broken_xlsx_row_rejects_the_file(catalogue: Catalogue, tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "bad.xlsx", [("1.1", "A", "", "", ""), (None, "Không có mã", "", "", "")])
    report = import_file(catalogue, path)
    assert not report.ok and "row 5" in report.errors[0] and catalogue.count() == 0
    notxlsx = tmp_path / "fake.xlsx"
    notxlsx.write_text("not a workbook", encoding="utf-8")
    assert not import_file(catalogue, notxlsx).ok


def test_real_xlsx_lists_merge_into_the_crawl(catalogue: Catalogue, crawl_path: Path, lists_dir: Path) -> None:
    import_file(catalogue, crawl_path)
    before = catalogue.get("1.001193")
    report = import_file(catalogue, lists_dir / "danh-sach-tthc-BoTuPhap.xlsx")
    assert report.ok and report.records == 271 and not report.added
    after = catalogue.get("1.001193")
    assert before is not None and after is not None
    assert after.channels == before.channels and after.documents == before.documents
    court = import_file(catalogue, lists_dir / "toa-an-nhan-dan.xlsx", dry_run=True)
    assert court.ok and court.records == 3 and len(court.unchanged) == 3


def test_cli_import_and_stats(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"ma_thu_tuc": "1.1", "ten_thu_tuc": "A", "linh_vuc": "Hộ tịch"}])
    assert main(["import", str(path), "--dry-run"]) == 0
    assert main(["import", str(path)]) == 0
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "would change: added 1" in out and "procedures: 1" in out and "Hộ tịch" in out
    bad = write_jsonl(tmp_path / "b.jsonl", [{"ma_thu_tuc": "1.2"}])
    assert main(["import", str(bad)]) == 1
    assert (data_dir / "catalogue.db").is_file()


def test_repeated_codes_warn_and_last_wins(catalogue: Catalogue, tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "dup.xlsx", [("1.1", "Cũ", "", "", ""), ("1.1", "Mới", "", "", "")])
    report = import_file(catalogue, path)
    assert report.ok and any("repeated" in w for w in report.warnings)
    assert catalogue.get("1.1").title == "Mới"  # type: ignore[union-attr]
