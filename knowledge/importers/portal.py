"""Parser for the national portal crawl (dichvucong.gov.vn): one JSON object per procedure.

This module assembles a Procedure from a crawled record and reports which of its tables parsed;
the field parsers themselves are in ``portal_fields``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from common.text import nfc
from knowledge.importers.portal_fields import (
    CHANNEL_HEADER,
    DOCUMENT_HEADER,
    LEGAL_HEADER,
    clean,
    parse_channels,
    parse_documents,
    parse_legal_basis,
    parse_levels,
    parse_result,
    parse_steps,
)
from knowledge.schema import Procedure


def _agencies(raw: dict[str, Any]) -> list[str]:
    """Collect the distinct agencies named by the record."""
    seen: list[str] = []
    for key in ("co_quan_thuc_hien", "co_quan_co_tham_quyen", "co_quan_duoc_uy_quyen"):
        for part in clean(raw.get(key)).split("\n"):
            part = part.strip()
            if part and part not in seen:
                seen.append(part)
    return seen


@dataclass
class ParseReport:
    """Which tables of one record had content, and which of them parsed."""

    present: set[str] = field(default_factory=set)
    parsed: set[str] = field(default_factory=set)


FACETS_MEASURED = ("channels", "times", "fees", "documents", "legal_basis")


def _has_table_content(text: str, header: str) -> bool:
    """True when a table field holds more than its header and "no information"."""
    body = nfc(text or "").replace(header, "")
    return bool(clean(body).strip("-: "))


def parse_record_report(raw: dict[str, Any]) -> tuple[Procedure, ParseReport]:
    """Parse one crawled record; raise ValueError when it has no code or title."""
    code = clean(raw.get("ma_thu_tuc"))
    title = clean(raw.get("ten_thu_tuc"))
    if not code:
        raise ValueError("missing ma_thu_tuc (procedure code)")
    if not title:
        raise ValueError(f"{code}: missing ten_thu_tuc (title)")
    channel_text = str(raw.get("cach_thuc_thuc_hien") or "")
    document_text = str(raw.get("thanh_phan_ho_so") or "")
    legal_text = str(raw.get("can_cu_phap_ly") or "")
    procedure = Procedure(
        code=code,
        title=title,
        field=clean(raw.get("linh_vuc")),
        levels=parse_levels(str(raw.get("cap_thuc_hien") or "")),
        agencies=_agencies(raw),
        applicants=clean(raw.get("doi_tuong_thuc_hien")),
        conditions=clean(raw.get("yeu_cau_dieu_kien")),
        steps=parse_steps(str(raw.get("trinh_tu_thuc_hien") or "")),
        channels=parse_channels(channel_text),
        documents=parse_documents(document_text),
        result=parse_result(str(raw.get("ket_qua_xu_ly") or "")),
        legal_basis=parse_legal_basis(legal_text),
        where_to_submit=clean(raw.get("dia_chi_tiep_nhan")),
        source_url=clean(raw.get("detail_url")),
    )
    report = ParseReport()
    if _has_table_content(channel_text, CHANNEL_HEADER):
        report.present.add("channels")
        if procedure.channels:
            report.parsed.add("channels")
        if re.search(r"(?:Trực tiếp|Trực tuyến|Dịch vụ bưu chính)\d", channel_text):
            report.present.add("times")
            if any(c.time_text for c in procedure.channels):
                report.parsed.add("times")
        if re.search(r"Miễn phí|\d ?(?:VNĐ|Việt Nam Đồng|Đồng|USD)", channel_text):
            report.present.add("fees")
            if any(c.fee_text or c.free for c in procedure.channels):
                report.parsed.add("fees")
    if _has_table_content(document_text, DOCUMENT_HEADER) and DOCUMENT_HEADER in document_text:
        report.present.add("documents")
        if any(d.quantity_text for d in procedure.documents):
            report.parsed.add("documents")
    if _has_table_content(legal_text, LEGAL_HEADER):
        report.present.add("legal_basis")
        if any(b.number for b in procedure.legal_basis):
            report.parsed.add("legal_basis")
    return procedure, report


def parse_record(raw: dict[str, Any]) -> Procedure:
    """Parse one record of the portal crawl into a Procedure (ValueError when unusable)."""
    return parse_record_report(raw)[0]
